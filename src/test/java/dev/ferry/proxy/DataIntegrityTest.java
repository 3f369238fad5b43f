package dev.ferry.proxy;

import dev.ferry.support.Backend;
import dev.ferry.support.Blackhole;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer.Digest;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Multi-megabyte transfers through Ferry against slow readers: every byte arrives, in order, the source is paused
 * while the sink is slow (buffering stays bounded), and a FIN right after the last byte loses nothing.
 */
class DataIntegrityTest {

  private static final int SIZE = 8 * 1024 * 1024;
  private static final Duration SLOW = Duration.ofMillis(2);

  @Test
  void uploadArrivesIntactAtASlowUpstreamEvenWhenTheClientClosesRightAfter() throws Exception {
    byte[] data = Peer.randomBytes(SIZE, 1);
    CompletableFuture<Digest> received = new CompletableFuture<>();
    try (Backend backend = new Backend(peer -> {
           received.complete(peer.readToEnd(SLOW));
           peer.close();
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("buffer.soft-limit", 64 * 1024).set("close.flush-timeout", Duration.ofSeconds(20))
           .set("registry.release-timeout", Duration.ofSeconds(30)))) {
      Peer client = ferry.connect();
      client.write(data);
      client.finish();

      assertThat(received.get(60, TimeUnit.SECONDS)).isEqualTo(Digest.of(data));
      client.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getLong("bytes_upstream")).isEqualTo(SIZE);
      ferry.assertReleasedCleanly();
    }
  }

  /**
   * A fire-and-forget client (syslog, metrics push): it sends and closes before any upstream has answered. Its
   * bytes are held while Ferry keeps connecting, then delivered with its FIN; the connection ends when the upstream
   * closes in turn.
   */
  @Test
  void deliversWhatAClientSentBeforeClosingWhileTheUpstreamWasStillConnecting() throws Exception {
    byte[] data = Peer.randomBytes(100_000, 4);
    CompletableFuture<Digest> received = new CompletableFuture<>();
    try (Blackhole silent = new Blackhole();
         Backend sink = new Backend(peer -> {
           received.complete(peer.readToEnd(Duration.ZERO));
           peer.close();
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(silent.address(), sink.address())
           .set("connect.timeout", Duration.ofMillis(400)).set("connect.attempts", 2))) {
      Peer client = ferry.connect();
      client.write(data);
      client.close();

      assertThat(received.get(30, TimeUnit.SECONDS)).isEqualTo(Digest.of(data));
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getLong("bytes_upstream")).isEqualTo(data.length);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void downloadArrivesIntactAtASlowClientEvenWhenTheUpstreamClosesRightAfter() throws Exception {
    byte[] data = Peer.randomBytes(SIZE, 2);
    try (Backend backend = new Backend(peer -> {
           peer.write(data);
           peer.finish();
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("buffer.soft-limit", 64 * 1024).set("close.flush-timeout", Duration.ofSeconds(20))
           .set("registry.release-timeout", Duration.ofSeconds(30)))) {
      Peer client = ferry.connect();
      Digest got = client.readToEnd(SLOW);
      client.close();

      assertThat(got).isEqualTo(Digest.of(data));
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.UPSTREAM);
      assertThat(line.getLong("bytes_downstream")).isEqualTo(SIZE);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void echoesManyMegabytesBothWaysAtOnceWithBoundedQueues() throws Exception {
    byte[] data = Peer.randomBytes(SIZE / 2, 3);
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("buffer.soft-limit", 32 * 1024))) {
      Peer client = ferry.connect();
      long[] maxQueued = new long[1];
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          for (int off = 0; off < data.length; off += 256 * 1024) {
            client.write(java.util.Arrays.copyOfRange(data, off, Math.min(data.length, off + 256 * 1024)));
            maxQueued[0] = Math.max(maxQueued[0], ferry.metrics().bytesQueued());
          }
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      byte[] echoed = client.readExactly(data.length);
      writer.get(60, TimeUnit.SECONDS);
      assertThat(Digest.of(echoed)).isEqualTo(Digest.of(data));
      // Soft limit 32 KiB per direction: a source is paused once its sink holds that much, so what Ferry queues
      // stays within a few reads of it, far below the 4 MiB moved.
      assertThat(maxQueued[0]).isLessThan(1024 * 1024);
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }
}
