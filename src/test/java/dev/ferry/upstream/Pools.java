package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.BalanceAlgorithm;
import dev.ferry.config.PassiveHealthOptions;
import dev.ferry.config.PoolOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.config.WeightedUpstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Builders for pool tests. */
final class Pools {

  static final long SEED = 20261201L;

  private Pools() {
  }

  /** Upstreams 10.0.0.1:5432, 10.0.0.2:5432, ... with these weights. */
  static List<WeightedUpstream> weighted(int... weights) {
    List<WeightedUpstream> list = new ArrayList<>();
    for (int i = 0; i < weights.length; i++) {
      list.add(new WeightedUpstream(new UpstreamAddress("10.0.0." + (i + 1), 5432), weights[i]));
    }
    return list;
  }

  static PoolOptions options(BalanceAlgorithm balance, int... weights) {
    return new PoolOptions(weighted(weights), balance, PassiveHealthOptions.DEFAULTS, ActiveHealthOptions.DEFAULTS,
      PoolOptions.DEFAULT_PANIC_THRESHOLD);
  }

  static UpstreamPool pool(PoolOptions options, ManualTicker ticker) {
    return new UpstreamPool("db", options, new SimpleMeterRegistry(), ticker, SEED);
  }

  static UpstreamPool pool(BalanceAlgorithm balance, int... weights) {
    return pool(options(balance, weights), new ManualTicker());
  }

  /** One first attempt of a new client. */
  static Upstream pick(UpstreamPool pool, String client) {
    return pool.choose(client, new Tried());
  }

  /** A random IPv4 or IPv6 client address as text, as {@code InetAddress.getHostAddress()} writes it. */
  static String randomSource(Random random) {
    if (random.nextBoolean()) {
      return (random.nextInt(223) + 1) + "." + random.nextInt(256) + "." + random.nextInt(256) + "."
        + random.nextInt(256);
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i > 0) {
        sb.append(':');
      }
      sb.append(Integer.toHexString(random.nextInt(1 << 16)));
    }
    return sb.toString();
  }

  /** Drives {@code u} into ejection with max-fails connect failures. */
  static void eject(UpstreamPool pool, Upstream u) {
    for (int i = 0; i < pool.options().passive().maxFails(); i++) {
      pool.connectFailed(u, new java.net.ConnectException("Connection refused"));
    }
  }
}
