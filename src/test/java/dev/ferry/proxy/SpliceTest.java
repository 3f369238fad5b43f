package dev.ferry.proxy;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer.Digest;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code splice: true}: a direction whose read bursts keep bringing {@link Splicer#FULL_READ} bytes moves the rest
 * with splice(2). The bytes still arrive intact and in order, faults still end the connection once with the right reason,
 * the byte count is exact up to less than one chunk, and a spliced connection that still moves bytes is not idle.
 * Each test also checks that splicing really happened ({@code ferry_splice_started_total}) or did not.
 */
class SpliceTest {

  private static final int SIZE = 8 * 1024 * 1024;

  @Test
  void uploadArrivesIntactAtASlowUpstreamWhenTheBulkDirectionSplices() throws Exception {
    byte[] data = Peer.randomBytes(SIZE, 11);
    CompletableFuture<Digest> received = new CompletableFuture<>();
    try (Backend backend = new Backend(peer -> {
           received.complete(peer.readToEnd(Duration.ofMillis(1)));
           peer.close();
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()).set("splice", true)
           .set("close.flush-timeout", Duration.ofSeconds(20)).set("registry.release-timeout", Duration.ofSeconds(30)))) {
      Peer client = ferry.connect();
      client.write(data);
      client.finish();

      assertThat(received.get(60, TimeUnit.SECONDS)).isEqualTo(Digest.of(data));
      client.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(ferry.metrics().spliceStartedTotal(Direction.UPSTREAM)).isEqualTo(1);
      assertThat(ferry.metrics().spliceStartedTotal(Direction.DOWNSTREAM)).isZero();
      // Exact up to the chunk in flight when the client ended.
      assertThat(line.getLong("bytes_upstream")).isBetween((long) SIZE - Splicer.CHUNK, (long) SIZE);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void downloadArrivesIntactAtASlowClientWhenTheUpstreamClosesRightAfterSplicing() throws Exception {
    byte[] data = Peer.randomBytes(SIZE, 16);
    java.util.concurrent.atomic.AtomicReference<FerryHarness> running = new java.util.concurrent.atomic.AtomicReference<>();
    try (Backend backend = new Backend(peer -> {
           // The FIN goes out only once the download splices: a FIN that finds the whole download still in Ferry's
           // receive buffer makes Netty read it at once, in buffers too small to count as a bulk stream.
           int half = SIZE / 2;
           peer.write(java.util.Arrays.copyOf(data, half));
           Await.until("the download splices", () -> running.get().metrics().spliceStartedTotal(Direction.DOWNSTREAM) == 1);
           peer.write(java.util.Arrays.copyOfRange(data, half, SIZE));
           peer.finish();
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()).set("splice", true)
           .set("close.flush-timeout", Duration.ofSeconds(20)).set("registry.release-timeout", Duration.ofSeconds(30)))) {
      running.set(ferry);
      Peer client = ferry.connect();
      // The first half at full speed, so that reads fill and the stream counts as bulk; the rest slowly, so that
      // the upstream's FIN finds bytes still in the socket behind the splice.
      byte[] first = client.readExactly(SIZE / 2);
      Digest rest = client.readToEnd(Duration.ofMillis(1));
      client.close();

      assertThat(first).isEqualTo(java.util.Arrays.copyOf(data, SIZE / 2));
      assertThat(rest).isEqualTo(Digest.of(java.util.Arrays.copyOfRange(data, SIZE / 2, SIZE)));
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.UPSTREAM);
      assertThat(ferry.metrics().spliceStartedTotal(Direction.DOWNSTREAM)).isEqualTo(1);
      assertThat(line.getLong("bytes_downstream")).isBetween((long) SIZE - Splicer.CHUNK, (long) SIZE);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void closesBothSidesWithPeerResetWhenTheClientResetsMidSplice() throws Exception {
    byte[] data = Peer.randomBytes(SIZE, 17);
    CompletableFuture<Void> upstreamEnded = new CompletableFuture<>();
    try (Backend backend = new Backend(peer -> {
           try {
             peer.readToEnd(Duration.ofMillis(1));
           } finally {
             upstreamEnded.complete(null);
           }
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()).set("splice", true))) {
      Peer client = ferry.connect();
      client.write(java.util.Arrays.copyOf(data, 2 * 1024 * 1024));
      Await.until("the upload splices", () -> ferry.metrics().spliceStartedTotal(Direction.UPSTREAM) == 1);
      client.reset();
      upstreamEnded.get(30, TimeUnit.SECONDS);
      ferry.assertClosedFor(client, CloseReason.PEER_RESET, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void echoesManyMegabytesBothWaysWhileSplicing() throws Exception {
    byte[] data = Peer.randomBytes(SIZE / 2, 12);
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("splice", true))) {
      Peer client = ferry.connect();
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          client.write(data);
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      byte[] echoed = client.readExactly(data.length);
      writer.get(60, TimeUnit.SECONDS);
      assertThat(Digest.of(echoed)).isEqualTo(Digest.of(data));
      assertThat(ferry.metrics().spliceStartedTotal(Direction.UPSTREAM)).isEqualTo(1);
      assertThat(ferry.metrics().spliceStartedTotal(Direction.DOWNSTREAM)).isEqualTo(1);
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void closesBothSidesWithPeerResetWhenTheUpstreamResetsMidSplice() throws Exception {
    byte[] data = Peer.randomBytes(SIZE, 13);
    try (Backend backend = new Backend(peer -> {
           peer.readExactly(2 * 1024 * 1024);
           peer.reset();
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()).set("splice", true))) {
      Peer client = ferry.connect();
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          client.write(data);
        } catch (IOException e) {
          // The reset reaches the client as a reset or a broken pipe: expected.
        }
      });
      client.awaitClosedByPeer();
      writer.get(30, TimeUnit.SECONDS);
      ferry.assertClosedFor(client, CloseReason.PEER_RESET, Side.UPSTREAM);
      assertThat(ferry.metrics().spliceStartedTotal(Direction.UPSTREAM)).isEqualTo(1);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void keepsASplicedConnectionThatStillTricklesAndClosesItOnceIdle() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("splice", true)
           .set("idle-timeout", Duration.ofMillis(600)))) {
      Peer client = ferry.connect();
      byte[] bulk = Peer.randomBytes(512 * 1024, 14);
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          client.write(bulk);
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      assertThat(Digest.of(client.readExactly(bulk.length))).isEqualTo(Digest.of(bulk));
      writer.get(30, TimeUnit.SECONDS);
      assertThat(ferry.metrics().spliceStartedTotal(Direction.UPSTREAM)).isEqualTo(1);
      // A few bytes every 150 ms for 3 idle timeouts: far less than a chunk, so the byte count does not move, but
      // the kernel sees data arriving and the connection stays.
      for (int i = 0; i < 12; i++) {
        client.write("x");
        assertThat(client.readExactlyText(1)).isEqualTo("x");
        Peer.nap(Duration.ofMillis(150));
      }
      assertThat(ferry.metrics().closedTotal()).as("closed while still moving bytes").isZero();

      client.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.IDLE_TIMEOUT, Side.PROXY);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void aLongRequestResponseExchangeNeverSplices() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("splice", true))) {
      Peer client = ferry.connect();
      // 2 MiB each way in 1 KiB request/response pairs: much data, but never a full read.
      byte[] message = Peer.randomBytes(1024, 15);
      for (int i = 0; i < 2048; i++) {
        client.write(message);
        client.readExactly(message.length);
      }
      client.close();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(ferry.metrics().spliceStartedTotal(Direction.UPSTREAM)).isZero();
      assertThat(ferry.metrics().spliceStartedTotal(Direction.DOWNSTREAM)).isZero();
      assertThat(line.getLong("bytes_upstream")).isEqualTo(line.getLong("bytes_downstream")).isEqualTo(2048L * 1024);
      // The series exist from start-up, at 0.
      assertThat(ferry.admin("GET", "/metrics").body())
        .contains("ferry_splice_started_total{direction=\"upstream\",route=\"default\"} 0.0")
        .contains("ferry_splice_started_total{direction=\"downstream\",route=\"default\"} 0.0");
      ferry.assertReleasedCleanly();
    }
  }
}
