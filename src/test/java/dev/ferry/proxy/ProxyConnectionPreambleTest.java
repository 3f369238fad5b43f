package dev.ferry.proxy;

import dev.ferry.config.UpstreamAddress;
import dev.ferry.registry.LocalCodec;
import dev.ferry.support.TestConfig;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ProxyConnection} before its first connect: the preamble's events as {@link PreambleHandler} reports them (a
 * PROXY header naming the client, a route chosen by a ClientHello, a malformed or late header, a TLS failure), and
 * what the connection does with each: the client it logs and counts in the limits, the route it connects through,
 * the end it publishes once. On a route that accepts a PROXY v1 header, with {@link ConnectionFixture}'s embedded
 * sockets; the decoding itself is Netty's and {@link PreambleMatrixTest}'s.
 */
class ProxyConnectionPreambleTest {

  private static final String HEADER_CLIENT = "192.0.2.9";
  private static final String HEADER = "PROXY TCP4 " + HEADER_CLIENT + " 10.0.0.1 5000 80\r\n";

  private static Vertx vertx;
  private ConnectionFixture f;

  @BeforeAll
  static void vertx() {
    vertx = Vertx.vertx();
    LocalCodec.registerAll(vertx.eventBus());
  }

  @AfterAll
  static void closeVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get();
  }

  @AfterEach
  void close() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  private static TestConfig behindAProxy() {
    return ConnectionFixture.config().set("proxy-protocol.accept", "v1").set("proxy-protocol.header-timeout", "2s")
      .set("limits.max-connections-per-source", 1);
  }

  @Test
  void theHeadersClientIsTheConnectionsClientAndTakesThePlaceOfItsSource() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), true);
    assertThat(f.start()).as("no upstream dialled before the header").isNull();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.PREAMBLE);
    assertThat(f.info.stage()).isEqualTo("PREAMBLE");

    f.client.writeInbound(f.bytes(HEADER));
    ConnectionFixture.Attempt a = f.next();
    assertThat(a).as("connects once the header is read").isNotNull();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CONNECTING);
    assertThat(f.conn.source()).isEqualTo(HEADER_CLIENT);
    assertThat(f.info.client()).isEqualTo(HEADER_CLIENT + ":5000");
    assertThat(f.info.peer()).isEqualTo(ConnectionFixture.SOURCE + ":5555");
    assertThat(f.route.limits().admitSource(HEADER_CLIENT)).as("the header's client holds the place").isFalse();
    assertThat(f.route.limits().admitSource(ConnectionFixture.SOURCE)).as("the TCP peer holds none").isTrue();
    f.route.limits().releaseSource(ConnectionFixture.SOURCE);

    a.succeed();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.ESTABLISHED);
    f.release(CloseReason.PEER_CLOSED, Side.CLIENT);
    assertThat(f.published()).containsExactly("ack 0");
    assertThat(f.route.limits().admitSource(HEADER_CLIENT)).as("given back at the release").isTrue();
  }

  @Test
  void aHeadersClientOverItsSourceLimitIsRefusedWithoutAConnect() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), true);
    assertThat(f.route.limits().admitSource(HEADER_CLIENT)).as("another connection of that client").isTrue();
    f.start();
    f.client.writeInbound(f.bytes(HEADER));
    assertThat(f.attempts).isEmpty();
    assertThat(f.published()).containsExactly(
      "close LIMIT proxy: over limits.max-connections-per-source (1) for " + HEADER_CLIENT);
    f.release(CloseReason.LIMIT, Side.PROXY);
    assertThat(f.published()).containsExactly("ack 0");
    assertThat(f.route.limits().admitSource(HEADER_CLIENT)).as("the other one's place stays taken").isFalse();
  }

  @Test
  void aHeaderWithoutAnAddressLeavesThePeerTheClient() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), true);
    f.start();
    f.client.writeInbound(f.bytes("PROXY UNKNOWN\r\n"));
    assertThat(f.next()).isNotNull();
    assertThat(f.conn.source()).isEqualTo(ConnectionFixture.SOURCE);
    assertThat(f.info.client()).isEqualTo(ConnectionFixture.SOURCE + ":5555");
    assertThat(f.info.peer()).isNull();
    assertThat(f.route.limits().admitSource(ConnectionFixture.SOURCE)).as("the peer holds its place").isFalse();
    f.release(CloseReason.SHUTDOWN, Side.PROXY);
  }

  @Test
  void aMalformedHeaderIsOneProtocolErrorOfTheClientCountedOnce() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), true);
    f.start();
    f.client.writeInbound(f.bytes("GET / HTTP/1.1\r\n\r\n"));
    f.conn.protocolError(ProtocolErrorCause.TIMEOUT, "a second failure");
    f.conn.tlsError(Side.CLIENT, TlsErrorCause.HANDSHAKE, "and a third");
    assertThat(f.attempts).isEmpty();
    assertThat(f.published()).singleElement().asString().startsWith("close PROTOCOL_ERROR client: malformed: ");
    assertThat(f.route.meters().protocolErrorsTotal(ProtocolErrorCause.MALFORMED)).isEqualTo(1);
    assertThat(f.route.meters().protocolErrorsTotal(ProtocolErrorCause.TIMEOUT)).isZero();
    assertThat(f.route.meters().tlsErrorsTotal(Side.CLIENT, TlsErrorCause.HANDSHAKE)).isZero();
    f.release(CloseReason.PROTOCOL_ERROR, Side.CLIENT);
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void aHeaderThatDoesNotComeInTimeIsAProtocolError() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), true);
    f.start();
    f.advance(Duration.ofMillis(1999));
    assertThat(f.published()).isEmpty();
    f.advance(Duration.ofMillis(1));
    assertThat(f.published()).singleElement().asString().startsWith("close PROTOCOL_ERROR client: timeout");
    assertThat(f.route.meters().protocolErrorsTotal(ProtocolErrorCause.TIMEOUT)).isEqualTo(1);
    f.release(CloseReason.PROTOCOL_ERROR, Side.CLIENT);
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void aTlsFailureIsPublishedWithItsSideAndCountedOnce() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), true);
    f.start();
    f.conn.tlsError(Side.CLIENT, TlsErrorCause.HANDSHAKE, "no shared cipher");
    f.conn.tlsError(Side.CLIENT, TlsErrorCause.ALERT, "then an alert");
    assertThat(f.published()).containsExactly("close TLS_ERROR client: handshake: no shared cipher");
    assertThat(f.route.meters().tlsErrorsTotal(Side.CLIENT, TlsErrorCause.HANDSHAKE)).isEqualTo(1);
    assertThat(f.route.meters().tlsErrorsTotal(Side.CLIENT, TlsErrorCause.ALERT)).isZero();
    f.release(CloseReason.TLS_ERROR, Side.CLIENT);
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void aReleaseDuringThePreambleEndsItAndWhatTheDecodersReportAfterIsItsConsequence() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), true);
    f.start();
    f.release(CloseReason.SHUTDOWN, Side.PROXY);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(f.published()).containsExactly("ack 0");

    f.conn.proxyHeader(new java.net.InetSocketAddress(HEADER_CLIENT, 5000), null);
    f.conn.routeChosen(f.served("other", new UpstreamAddress("127.0.0.3", 7103)), "other.example");
    f.conn.preambleDone();
    f.conn.protocolError(ProtocolErrorCause.TRUNCATED, "closed mid-header");
    f.conn.tlsError(Side.CLIENT, TlsErrorCause.HANDSHAKE, "closed mid-handshake");
    f.advance(Duration.ofSeconds(3));
    assertThat(f.conn.source()).isEqualTo(ConnectionFixture.SOURCE);
    assertThat(f.info.route()).isEqualTo(f.route.name());
    assertThat(f.info.serverName()).isNull();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(f.attempts).isEmpty();
    assertThat(f.published()).as("no end published, no timeout").isEmpty();
    assertThat(f.route.meters().protocolErrorsTotal(ProtocolErrorCause.TRUNCATED)).isZero();
    assertThat(f.route.meters().protocolErrorsTotal(ProtocolErrorCause.TIMEOUT)).isZero();
    assertThat(f.route.meters().tlsErrorsTotal(Side.CLIENT, TlsErrorCause.HANDSHAKE)).isZero();
  }

  @Test
  void aRouteChosenByTheClientHelloIsTheOneConnectedThroughAndCountedIn() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy(), false);
    // As on an address several routes share: the accept took the process's place only.
    assertThat(f.conn.admission().admitProcess()).isNull();
    UpstreamAddress c = new UpstreamAddress("127.0.0.3", 7103);
    ListenerVerticle.Served other = f.served("other", c);
    f.start();
    f.conn.routeChosen(other, "other.example");
    assertThat(f.info.route()).isEqualTo("other");
    assertThat(f.info.serverName()).isEqualTo("other.example");
    f.client.writeInbound(f.bytes(HEADER + "hello"));
    ConnectionFixture.Attempt a = f.next();
    assertThat(ConnectionFixture.target(a)).as("the chosen route's upstream").isEqualTo(c);
    assertThat(other.route.limits().admitSource(HEADER_CLIENT)).as("counted in the chosen route").isFalse();
    assertThat(f.route.limits().admitSource(HEADER_CLIENT)).as("not in the lead route").isTrue();
    f.route.limits().releaseSource(HEADER_CLIENT);
    a.succeed();
    assertThat(a.channel.<io.netty.buffer.ByteBuf>readOutbound()).satisfies(b -> {
      assertThat(b.toString(java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("hello");
      b.release();
    });
    f.release(CloseReason.PEER_CLOSED, Side.CLIENT);
    assertThat(f.published()).containsExactly("ack 0");
    assertThat(other.route.limits().admitSource(HEADER_CLIENT)).as("given back at the release").isTrue();
  }

  @Test
  void theUpstreamIsToldTheHeadersClientBeforeItsFirstByte() throws Exception {
    f = new ConnectionFixture(vertx, behindAProxy().set("proxy-protocol.send", "v1"), true);
    f.start();
    f.client.writeInbound(f.bytes(HEADER + "hello"));
    ConnectionFixture.Attempt a = f.next();
    a.succeed();
    StringBuilder sent = new StringBuilder();
    for (Object o; (o = a.channel.readOutbound()) != null; ) {
      io.netty.buffer.ByteBuf b = (io.netty.buffer.ByteBuf) o;
      sent.append(b.toString(java.nio.charset.StandardCharsets.US_ASCII));
      b.release();
    }
    assertThat(sent.toString()).isEqualTo(HEADER + "hello");
    f.release(CloseReason.PEER_CLOSED, Side.CLIENT);
    assertThat(f.published()).containsExactly("ack 0");
  }
}
