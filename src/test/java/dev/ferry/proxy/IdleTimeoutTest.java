package dev.ferry.proxy;

import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class IdleTimeoutTest {

  @Test
  void closesBothSidesWhenNoByteMovesForTheIdleTimeout() throws Exception {
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("idle-timeout", Duration.ofMillis(300)))) {
      Peer client = ferry.connect();
      client.write("one byte then silence");
      Peer upstream = backend.awaitAccepted(1);
      upstream.readExactly(21);
      long start = System.nanoTime();
      client.awaitClosedByPeer();
      upstream.awaitClosedByPeer();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(200));
      ferry.assertClosedFor(client, CloseReason.IDLE_TIMEOUT, Side.PROXY);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void keepsAConnectionThatMovesBytesOpenPastTheIdleTimeout() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("idle-timeout", Duration.ofMillis(400)))) {
      Peer client = ferry.connect();
      long end = System.nanoTime() + Duration.ofMillis(1200).toNanos();
      while (System.nanoTime() < end) {
        client.write("tick");
        assertThat(client.readExactlyText(4)).isEqualTo("tick");
        Peer.nap(Duration.ofMillis(100));
      }
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }
}
