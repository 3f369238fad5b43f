package dev.ferry.proxy;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** A sink that stops reading costs Ferry a bounded amount of memory: the source is paused, or the connection ends. */
class BufferLimitTest {

  private static final byte[] CHUNK = new byte[256 * 1024];

  /** Writes until the socket blocks for good (the other side stops reading); ends when the socket dies. */
  private static CompletableFuture<Void> flood(Peer client) {
    return CompletableFuture.runAsync(() -> {
      try {
        for (int i = 0; i < 4096; i++) {
          client.write(CHUNK);
        }
      } catch (IOException closed) {
        // expected: the test ends the connection
      }
    });
  }

  @Test
  void pausesTheClientInsteadOfBufferingWhenTheUpstreamStopsReading() throws Exception {
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()))) {
      Peer client = ferry.connect();
      CompletableFuture<Void> writer = flood(client);
      Peer upstream = backend.awaitAccepted(1);
      // Once the kernel buffers between Ferry and the silent upstream are full, writes stay queued in Ferry and the
      // client is paused at the soft limit (64 KiB) plus at most the read under way.
      Await.until("Ferry queues toward the upstream", () -> ferry.metrics().bytesQueued() > 0);
      long[] samples = new long[50];
      for (int i = 0; i < samples.length; i++) {
        samples[i] = ferry.metrics().bytesQueued();
        Peer.nap(java.time.Duration.ofMillis(10));
      }
      assertThat(java.util.Arrays.stream(samples).max().orElseThrow()).isLessThanOrEqualTo(64 * 1024 + 256 * 1024);
      assertThat(ferry.metrics().closedTotal()).as("no connection closed").isZero();

      client.reset();
      writer.join();
      upstream.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.PEER_RESET, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void closesWithOverflowWhenQueuedBytesPassTheHardLimit() throws Exception {
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("buffer.soft-limit", 1024).set("buffer.hard-limit", 2048))) {
      Peer client = ferry.connect();
      CompletableFuture<Void> writer = flood(client);
      Peer upstream = backend.awaitAccepted(1);
      client.awaitClosedByPeer();
      upstream.awaitClosedByPeer();
      writer.join();
      ferry.assertClosedFor(client, CloseReason.OVERFLOW, Side.UPSTREAM);
      ferry.assertReleasedCleanly();
    }
  }
}
