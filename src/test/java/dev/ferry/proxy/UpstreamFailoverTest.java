package dev.ferry.proxy;

import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.MetricNames;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Outcome;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.Counter;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue #10's complaint, measured: with one of two upstreams refusing (a crashed pod whose endpoint is still listed)
 * 2.9 % of clients failed, each after every attempt went to the dead one. A pool remembers: a retry goes to an
 * upstream this client has not tried, and {@code health.passive.max-fails} failures in a row eject the dead one.
 */
class UpstreamFailoverTest {

  static final byte[] PING = "ping\n".getBytes(StandardCharsets.US_ASCII);

  static Backend echo() throws IOException {
    return new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(PING.length))));
  }

  /** One client: connects, sends a ping, expects it back, ends in order. True when all of it worked. */
  static boolean exchange(int port) {
    try (Peer client = Peer.connect(port)) {
      client.write(PING);
      boolean ok = java.util.Arrays.equals(client.readExactly(PING.length), PING);
      client.finish();
      client.awaitClosedByPeer();
      return ok;
    } catch (IOException | AssertionError e) {
      return false;
    }
  }

  private static long connectFailures(FerryHarness ferry, UpstreamAddress upstream) {
    return (long) ferry.metrics().registry().find(MetricNames.UPSTREAM_CONNECTS)
      .tag(MetricNames.TAG_UPSTREAM, upstream.toString()).tag(MetricNames.TAG_OUTCOME, Outcome.FAILURE.label())
      .counters().stream().mapToDouble(Counter::count).sum();
  }

  private static long ejections(FerryHarness ferry, UpstreamAddress upstream) {
    return (long) ferry.metrics().registry().find(MetricNames.UPSTREAM_EJECTIONS)
      .tag(MetricNames.TAG_UPSTREAM, upstream.toString()).counters().stream().mapToDouble(Counter::count).sum();
  }

  @Test
  void noClientFailsWhenOneOfTwoUpstreamsRefusesAndTheDeadOneIsEjectedAfterMaxFails() throws Exception {
    UpstreamAddress refusing = Backend.refusingAddress();
    try (Backend alive = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(refusing, alive.address())
           .set("connect.attempts", 2).set("health.passive.ejection-time", "1m"))) {
      int failed = 0;
      for (int i = 0; i < 200; i++) {
        failed += exchange(ferry.port()) ? 0 : 1;
      }
      assertThat(failed).as("clients that failed").isZero();
      Await.closed(ferry, 200);
      assertThat(ferry.metrics().closedTotal(CloseReason.PEER_CLOSED, Side.CLIENT)).isEqualTo(200);
      assertThat(connectFailures(ferry, refusing)).as("connects to the dead upstream: max-fails, then ejected")
        .isEqualTo(3);
      assertThat(ejections(ferry, refusing)).isEqualTo(1);
      ferry.assertReleasedCleanly();
    }
  }

  /** The storm of the issue: 64 clients at once, each opening connection after connection. */
  @Test
  void noClientFailsInAStormOfSixtyFourClientsWithOneUpstreamRefusing() throws Exception {
    UpstreamAddress refusing = Backend.refusingAddress();
    ExecutorService clients = Executors.newFixedThreadPool(64);
    try (Backend alive = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(refusing, alive.address())
           .set("connect.attempts", 2).set("instances", 2))) {
      AtomicInteger failed = new AtomicInteger();
      List<CompletableFuture<Void>> runs = new ArrayList<>();
      for (int c = 0; c < 64; c++) {
        runs.add(CompletableFuture.runAsync(() -> {
          for (int i = 0; i < 20; i++) {
            if (!exchange(ferry.port())) {
              failed.incrementAndGet();
            }
          }
        }, clients));
      }
      CompletableFuture.allOf(runs.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
      assertThat(failed.get()).as("clients that failed, of 1280").isZero();
      Await.closed(ferry, 1280);
      assertThat(ferry.metrics().closedTotal(CloseReason.CONNECT_FAILED, Side.UPSTREAM)).isZero();
      ferry.assertReleasedCleanly();
    } finally {
      clients.shutdownNow();
    }
  }

  @Test
  void anUpstreamStoppedMidRunGetsAtMostMaxFailsConnectsAndNoClientFails() throws Exception {
    try (Backend a = echo(); Backend b = echo(); Backend c = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(a.address(), b.address(), c.address())
           .set("health.passive.ejection-time", "1m"))) {
      int failed = 0;
      for (int i = 0; i < 300; i++) {
        if (i == 100) {
          c.close();
        }
        failed += exchange(ferry.port()) ? 0 : 1;
      }
      assertThat(failed).as("clients that failed").isZero();
      Await.closed(ferry, 300);
      assertThat(connectFailures(ferry, c.address())).as("connects to the stopped upstream after it stopped")
        .isEqualTo(3);
      assertThat(ejections(ferry, c.address())).isEqualTo(1);
      assertThat(b.accepted().size() + a.accepted().size()).as("the others served the rest").isGreaterThan(200);
      ferry.assertReleasedCleanly();
    }
  }

  /** Waits for the access log of {@code n} connections: each exchange ended in order before the next one began. */
  private static final class Await {
    static void closed(FerryHarness ferry, long n) {
      dev.ferry.support.Await.until(n + " connections released", () -> ferry.metrics().closedTotal() == n);
    }
  }
}
