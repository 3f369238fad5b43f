package dev.ferry.proxy;

import dev.ferry.support.Backend;
import dev.ferry.support.Exchange;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.support.Peer.Digest;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Half-close with the defaults: a FIN ends one direction only, and the other keeps flowing until its own FIN. The
 * scenarios a user meets first; every phase and fault combination is in {@link HalfCloseMatrixTest}.
 */
class HalfCloseTest {

  private static final byte[] REQUEST = Peer.randomBytes(100 * 1024, 91);
  private static final byte[] BODY = Peer.randomBytes(1024 * 1024, 92);

  /** Issue #9's exchange: 20 of 20 answers arrive intact, as through HAProxy. */
  @Test
  void deliversTheAnswerToAClientThatSentItsFinAndWaits() throws Exception {
    Digest expected = Digest.of(Exchange.expectedAnswer(REQUEST, BODY));
    try (Backend backend = new Backend(Exchange.server(BODY));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()))) {
      for (int i = 0; i < 20; i++) {
        try (Peer client = ferry.connect()) {
          assertThat(Exchange.run(client, REQUEST)).as("answer %d", i).isEqualTo(expected);
          JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
          assertThat(line.getLong("bytes_upstream")).isEqualTo(REQUEST.length);
          assertThat(line.getLong("bytes_downstream")).isEqualTo(expected.bytes());
        }
      }
      ferry.assertReleasedCleanly();
      assertThat(ferry.metrics().closedTotal()).isEqualTo(20);
    }
  }

  @Test
  void keepsDeliveringTheClientsBytesAfterTheUpstreamSentItsFin() throws Exception {
    byte[] upload = Peer.randomBytes(2 * 1024 * 1024, 93);
    try (Backend backend = new Backend(peer -> {
           peer.write("ready\n");
           peer.finish();
           Digest got = peer.readToEnd(Duration.ZERO);
           peer.write(got.equals(Digest.of(upload)) ? "x" : "");
         });
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()))) {
      Peer client = ferry.connect();
      assertThat(client.readToEnd(Duration.ZERO).bytes()).as("greeting, then the upstream's FIN").isEqualTo(6);
      client.write(upload);
      client.finish();
      client.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.UPSTREAM);
      assertThat(line.getLong("bytes_upstream")).isEqualTo(upload.length);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void loosesTheAnswerWithHalfCloseOffAsBeforeButDeliversTheRequest() throws Exception {
    try (Backend backend = new Backend(Exchange.server(BODY));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()).set("close.half-close", false))) {
      Peer client = ferry.connect();
      Digest got = runIgnoringReset(client);
      assertThat(got.bytes()).as("answer bytes with half-close off").isLessThan(BODY.length);
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getLong("bytes_upstream")).isEqualTo(REQUEST.length);
      assertThat(line.getString("detail")).contains("half-close off");
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void endsAHalfClosedConnectionWhoseOtherSideStaysSilentWithHalfClosedTimeout() throws Exception {
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("close.half-closed-timeout", Duration.ofMillis(400)))) {
      Peer client = ferry.connect();
      client.write("request");
      client.finish();
      Peer upstream = backend.awaitAccepted(1);
      assertThat(upstream.readToEnd(Duration.ZERO).bytes()).as("request, then Ferry's FIN").isEqualTo(7);
      client.awaitClosedByPeer();
      upstream.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.HALF_CLOSED_TIMEOUT, Side.PROXY);
      assertThat(line.getString("detail")).contains("client sent its FIN");
      ferry.assertReleasedCleanly();
    }
  }

  private static Digest runIgnoringReset(Peer client) throws IOException {
    try {
      return Exchange.run(client, REQUEST);
    } catch (IOException reset) {
      return new Digest(new byte[0], 0);
    }
  }
}
