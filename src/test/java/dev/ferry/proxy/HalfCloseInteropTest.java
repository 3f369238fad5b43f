package dev.ferry.proxy;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.Exchange;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Haproxy;
import dev.ferry.support.Peer;
import dev.ferry.support.Peer.Digest;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * HAProxy is the reference on the wire: the same half-close exchanges through a real HAProxy 2.6 ({@code mode tcp},
 * its defaults) and through Ferry (its defaults) must give every peer the same bytes, ending at the same point.
 */
class HalfCloseInteropTest {

  private static final byte[] REQUEST = Peer.randomBytes(100 * 1024, 81);
  private static final byte[] BODY = Peer.randomBytes(1024 * 1024, 82);

  @TempDir
  Path dir;

  /** The client sends its request and FIN, then reads the answer to the end (issue #9's exchange). */
  @Test
  void deliversTheSameAnswerAsHaproxyToAClientThatHalfClosedFirst() throws Exception {
    try (Backend backend = new Backend(Exchange.server(BODY));
         Haproxy haproxy = Haproxy.tcp(dir, backend.address().port());
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()))) {
      List<Digest> viaHaproxy = new ArrayList<>();
      List<Digest> viaFerry = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        try (Peer a = Peer.connect(haproxy.port()); Peer b = ferry.connect()) {
          viaHaproxy.add(Exchange.run(a, REQUEST));
          viaFerry.add(Exchange.run(b, REQUEST));
        }
      }
      Digest expected = Digest.of(Exchange.expectedAnswer(REQUEST, BODY));
      assertThat(viaHaproxy).as("through HAProxy").containsOnly(expected).hasSize(5);
      assertThat(viaFerry).as("through Ferry").isEqualTo(viaHaproxy);
      // The client's end of stream comes from the release, before its acknowledgement is counted: awaited.
      Await.equal("closed{PEER_CLOSED, client}", 5L, () -> ferry.metrics().closedTotal(CloseReason.PEER_CLOSED, Side.CLIENT));
      ferry.assertReleasedCleanly();
    }
  }

  /**
   * The upstream greets and sends its FIN first; the client, having read to the end, still uploads, then ends; the
   * upstream reads the upload to its end. Both peers see the same bytes through both proxies.
   */
  @Test
  void keepsTheClientsDirectionOpenAfterTheUpstreamsFinAsHaproxyDoes() throws Exception {
    byte[] upload = Peer.randomBytes(512 * 1024, 83);
    byte[] greeting = "hello\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    List<Digest> uploadsSeen = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (Backend backend = new Backend(peer -> {
           peer.write(greeting);
           peer.finish();
           uploadsSeen.add(peer.readToEnd(Duration.ZERO));
           peer.close();
         });
         Haproxy haproxy = Haproxy.tcp(dir, backend.address().port());
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()))) {
      Peer viaFerry = null;
      for (int port : new int[] {haproxy.port(), ferry.port()}) {
        Peer client = Peer.connect(port);
        assertThat(client.readToEnd(Duration.ZERO)).as("greeting, then FIN, via port %d", port)
          .isEqualTo(Digest.of(greeting));
        client.write(upload);
        client.finish();
        int proxied = uploadsSeen.size() + 1;
        // The client already read the upstream's FIN: the upstream's reading its upload to the end says it is done.
        dev.ferry.support.Await.until("the upload through port " + port + " arrived whole",
          () -> uploadsSeen.size() == proxied);
        client.close();
        viaFerry = client;
      }
      assertThat(uploadsSeen).as("uploads through HAProxy, then Ferry")
        .containsExactly(Digest.of(upload), Digest.of(upload));
      ferry.assertClosedFor(viaFerry, CloseReason.PEER_CLOSED, Side.UPSTREAM);
      ferry.assertReleasedCleanly();
    }
  }
}
