package dev.ferry.arch;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.BalanceAlgorithm;
import dev.ferry.config.PassiveHealthOptions;
import dev.ferry.config.PoolOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.config.WeightedUpstream;
import dev.ferry.metrics.MetricNames;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.upstream.CheckResult;
import dev.ferry.upstream.Tried;
import dev.ferry.upstream.Upstream;
import dev.ferry.upstream.UpstreamPool;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rule 6 of the architecture rules, which ArchUnit cannot express (a label is a runtime string): every label value of
 * every {@code ferry_*} meter of a running Ferry is an enum's label or a configured name, never a client address or a
 * connection id. A label per client or per connection is a new time series per client: unbounded cardinality for
 * Prometheus, and client addresses in a monitoring system.
 */
class MeterLabelsTest {

  private static final String ROUTE = "db";
  /** {@code ferry_upstream_connect*{outcome}}: two literals in FerryMetrics and UpstreamMeters, not an enum. */
  private static final Set<String> OUTCOMES = Set.of("success", "failure");
  private static final byte[] HELLO = "hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  @Test
  void everyFerryMeterLabelIsAnEnumLabelOrAConfiguredNameNeverAClient() throws Exception {
    UpstreamAddress refusing = Backend.refusingAddress();
    List<String> clients = new ArrayList<>();
    try (Backend echo = new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(HELLO.length))));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(echo.address(), refusing).setConnectAttempts(1))) {
      // Round robin from the first upstream, one attempt each: echo, refused, echo.
      Peer inOrder = exchange(ferry, clients);
      inOrder.close();
      ferry.assertClosedFor(inOrder, CloseReason.PEER_CLOSED, Side.CLIENT);

      Peer refused = connect(ferry, clients);
      refused.awaitClosedByPeer();
      ferry.assertClosedFor(refused, CloseReason.CONNECT_FAILED, Side.UPSTREAM);

      Peer reset = exchange(ferry, clients);
      reset.reset();
      ferry.assertClosedFor(reset, CloseReason.PEER_RESET, Side.CLIENT);
      ferry.assertReleasedCleanly();

      // Pools are not wired into the listeners yet: one on Ferry's registry, driven as a listener will drive it.
      MeterRegistry registry = ferry.metrics().registry();
      List<UpstreamAddress> poolUpstreams = List.of(echo.address(), refusing);
      try (UpstreamPool pool = new UpstreamPool(ROUTE, poolOptions(poolUpstreams), registry)) {
        drive(pool, refusing);
        Map<String, Set<String>> allowed = Map.of(
          MetricNames.TAG_REASON, labels(CloseReason.values(), CloseReason::label),
          MetricNames.TAG_SIDE, labels(Side.values(), Side::label),
          MetricNames.TAG_KIND, labels(LeakKind.values(), LeakKind::label),
          MetricNames.TAG_DIRECTION, labels(Direction.values(), Direction::label),
          MetricNames.TAG_RESULT, labels(CheckResult.values(), CheckResult::label),
          MetricNames.TAG_OUTCOME, OUTCOMES,
          MetricNames.TAG_ROUTE, Set.of(ROUTE),
          MetricNames.TAG_UPSTREAM, poolUpstreams.stream().map(UpstreamAddress::toString).collect(Collectors.toSet()));
        assertLabels(registry, allowed, clients);
      }
    }
  }

  /** Every tag of every ferry meter: a known key, a value from that key's allowed set; and every key seen. */
  private static void assertLabels(MeterRegistry registry, Map<String, Set<String>> allowed, List<String> clients) {
    List<Meter> meters = registry.getMeters().stream().filter(m -> m.getId().getName().startsWith("ferry.")).toList();
    Set<String> keysSeen = new TreeSet<>();
    List<String> bad = new ArrayList<>();
    for (Meter m : meters) {
      for (Tag tag : m.getId().getTags()) {
        keysSeen.add(tag.getKey());
        String where = m.getId().getName() + "{" + tag.getKey() + "=\"" + tag.getValue() + "\"}";
        if (clients.contains(tag.getValue())) {
          bad.add(where + ": a client's address");
        } else if (tag.getValue().matches("\\d+")) {
          bad.add(where + ": a number, like a connection id");
        } else if (!allowed.containsKey(tag.getKey())) {
          bad.add(where + ": a label key that is none of MetricNames.TAG_*");
        } else if (!allowed.get(tag.getKey()).contains(tag.getValue())) {
          bad.add(where + ": not one of " + new TreeSet<>(allowed.get(tag.getKey())));
        }
      }
    }
    assertThat(bad).as("ferry_* label values that are neither an enum's label nor a configured name").isEmpty();
    assertThat(keysSeen).as("label keys of the %d ferry_* meters (the scenario must reach every kind)", meters.size())
      .containsExactlyInAnyOrderElementsOf(allowed.keySet());
  }

  /** A client that sends 5 bytes and reads them back through an upstream that echoes them. */
  private static Peer exchange(FerryHarness ferry, List<String> clients) throws Exception {
    Peer p = connect(ferry, clients);
    p.write(HELLO);
    assertThat(p.readExactly(HELLO.length)).isEqualTo(HELLO);
    return p;
  }

  private static Peer connect(FerryHarness ferry, List<String> clients) throws Exception {
    Peer p = ferry.connect();
    clients.add("127.0.0.1:" + p.localPort());
    return p;
  }

  private static PoolOptions poolOptions(List<UpstreamAddress> upstreams) {
    return new PoolOptions(upstreams.stream().map(WeightedUpstream::of).toList(), BalanceAlgorithm.ROUND_ROBIN,
      PassiveHealthOptions.DEFAULTS, ActiveHealthOptions.DEFAULTS.withEnabled(true),
      PoolOptions.DEFAULT_PANIC_THRESHOLD);
  }

  /** A client served by each upstream; the refusing one fails until it is ejected. */
  private static void drive(UpstreamPool pool, UpstreamAddress refusing) {
    Tried tried = new Tried();
    for (int i = 0; i < 2; i++) {
      Upstream u = pool.choose("127.0.0.1", tried);
      pool.opened(u);
      if (u.label().equals(refusing.toString())) {
        pool.connectFailed(u, new ConnectException("Connection refused"));
      } else {
        pool.connectSucceeded(u);
      }
      pool.closed(u);
    }
    Upstream bad = pool.upstream(refusing.toString());
    for (int i = 0; i < pool.options().passive().maxFails(); i++) {
      pool.opened(bad);
      pool.connectFailed(bad, new ConnectException("Connection refused"));
      pool.closed(bad);
    }
  }

  private static <E> Set<String> labels(E[] values, Function<E, String> label) {
    return Arrays.stream(values).map(label).collect(Collectors.toSet());
  }
}
