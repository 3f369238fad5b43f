package dev.ferry.proxy;

import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A peer ends the connection mid-transfer: Ferry must close the other side too, record who ended it and how,
 * write one access-log line and give every buffer back.
 */
class PeerFaultTest {

  Backend backend;
  FerryHarness ferry;
  Peer client;
  Peer upstream;

  @BeforeEach
  void establish() throws IOException {
    backend = new Backend(Backend.HOLD);
    ferry = FerryHarness.start(FerryHarness.options(backend.address()));
    client = ferry.connect();
    upstream = backend.awaitAccepted(1);
    // Mid-transfer: bytes have moved both ways and more are in flight.
    client.write("ping");
    assertThat(upstream.readExactlyText(4)).isEqualTo("ping");
    upstream.write("pong");
    assertThat(client.readExactlyText(4)).isEqualTo("pong");
    client.write(filler(64 * 1024));
    upstream.write(filler(64 * 1024));
  }

  @AfterEach
  void tearDown() throws IOException {
    ferry.close();
    backend.close();
  }

  private static byte[] filler(int n) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) 'x');
    return b;
  }

  @Test
  void forwardsTheClientsFinAndEndsInOrderWhenTheUpstreamClosesInTurn() throws IOException {
    client.finish();
    upstream.awaitClosedByPeer();
    upstream.close();
    client.awaitClosedByPeer();
    ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
    ferry.assertReleasedCleanly();
  }

  @Test
  void closesUpstreamWhenClientResets() throws IOException {
    client.reset();
    upstream.awaitClosedByPeer();
    ferry.assertClosedFor(client, CloseReason.PEER_RESET, Side.CLIENT);
    ferry.assertReleasedCleanly();
  }

  @Test
  void forwardsTheUpstreamsFinAndEndsInOrderWhenTheClientClosesInTurn() throws IOException {
    upstream.finish();
    client.awaitClosedByPeer();
    client.close();
    upstream.awaitClosedByPeer();
    ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.UPSTREAM);
    ferry.assertReleasedCleanly();
  }

  @Test
  void closesClientWhenUpstreamResets() throws IOException {
    upstream.reset();
    client.awaitClosedByPeer();
    ferry.assertClosedFor(client, CloseReason.PEER_RESET, Side.UPSTREAM);
    ferry.assertReleasedCleanly();
  }
}
