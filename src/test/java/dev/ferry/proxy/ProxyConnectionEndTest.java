package dev.ferry.proxy;

import dev.ferry.metrics.MetricNames;
import dev.ferry.registry.LocalCodec;
import dev.ferry.support.TestConfig;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.NotYetConnectedException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How an established {@link ProxyConnection} ends, on embedded sockets ({@link ConnectionFixture}): in order, once
 * both directions delivered their FIN ({@code PEER_CLOSED}, blaming the side whose FIN came first), or by a fault,
 * published with its reason, side and detail, or by the sweep's timers; and nothing is published once the release
 * began. Each test reads exactly what reached the registry.
 */
class ProxyConnectionEndTest {

  private static final long HOUR = Duration.ofHours(1).toNanos();
  private static final long MINUTE = Duration.ofMinutes(1).toNanos();

  private static Vertx vertx;
  private ConnectionFixture f;
  private EmbeddedSocket upstream;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
    LocalCodec.registerAll(vertx.eventBus());
  }

  @AfterAll
  static void closeVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void closeFixture() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  /** Established, with the fixture's timers: idle 1 h, half-closed 1 min. */
  private void established(TestConfig config) throws Exception {
    f = new ConnectionFixture(vertx, config, true);
    upstream = f.established();
  }


  private static void fin(EmbeddedSocket from) {
    from.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
  }

  private double bytesTotal(Direction d) {
    return f.metrics.registry().get(MetricNames.BYTES).tag(MetricNames.TAG_DIRECTION, d.label()).counter().count();
  }

  // ---- the in-order end ------------------------------------------------------------------------------------

  @Test
  void bothFinsEndTheConnectionInOrderBlamingTheFirst() throws Exception {
    established(ConnectionFixture.config());
    fin(upstream);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.UPSTREAM_FIN);
    assertThat(f.client.isOutputShutdown()).as("the upstream's FIN passed on").isTrue();
    assertThat(f.published()).isEmpty();
    fin(f.client);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CLOSED_IN_ORDER);
    assertThat(upstream.isOutputShutdown()).as("the last direction sends no FIN of its own").isFalse();
    assertThat(f.published()).containsExactly("close PEER_CLOSED upstream: closed in order: the upstream sent its "
      + "FIN first, then the client");
  }

  @Test
  void aClientFinFirstIsBlamedOnTheClient() throws Exception {
    established(ConnectionFixture.config());
    fin(f.client);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CLIENT_FIN);
    fin(upstream);
    assertThat(f.conn.stage()).as("the first FIN's stage until the end").isEqualTo(
      ProxyConnection.Stage.CLOSED_IN_ORDER);
    assertThat(f.published()).containsExactly("close PEER_CLOSED client: closed in order: the client sent its "
      + "FIN first, then the upstream");
  }

  @Test
  void withHalfCloseOffTheFirstFinEndsTheConnection() throws Exception {
    established(ConnectionFixture.config().set("close.half-close", false));
    f.client.writeInbound(f.bytes("req"));
    fin(f.client);
    assertThat(upstream.received()).isEqualTo("req");
    assertThat(upstream.isOutputShutdown()).as("the release's close sends the FIN").isFalse();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CLOSED_IN_ORDER);
    assertThat(f.published()).containsExactly("close PEER_CLOSED client: closed in order: the client sent its FIN "
      + "(half-close off)");
  }

  @Test
  void aFinDuringTheReleaseChangesNothing() throws Exception {
    established(ConnectionFixture.config());
    f.conn.finReceived(Side.CLIENT);
    f.conn.ended(Direction.UPSTREAM);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CLIENT_FIN);
    f.release(CloseReason.ADMIN_KILL, Side.PROXY);
    f.conn.finReceived(Side.UPSTREAM);
    f.conn.ended(Direction.DOWNSTREAM);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(f.published()).containsExactly("ack 0");
  }

  // ---- faults ----------------------------------------------------------------------------------------------

  @Test
  void aReadErrorIsPublishedAsAResetOrAnIoErrorOfItsSide() throws Exception {
    established(ConnectionFixture.config());
    f.client.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
    upstream.pipeline().fireExceptionCaught(new IOException("No route to host"));
    f.conn.readFailed(Side.UPSTREAM, new IOException("writev(..) failed: Broken pipe"));
    f.conn.readFailed(Side.CLIENT, new IOException("shutdown(..) failed: Transport endpoint is not connected"));
    f.conn.readFailed(Side.CLIENT, new NotYetConnectedException());
    f.conn.readFailed(Side.CLIENT, new IOException());
    f.conn.readFailed(Side.UPSTREAM, new ConnectException("Connection refused"));
    assertThat(f.published()).containsExactly(
      "close PEER_RESET client: Connection reset by peer",
      "close IO_ERROR upstream: No route to host",
      "close PEER_RESET upstream: writev(..) failed: Broken pipe",
      "close PEER_RESET client: shutdown(..) failed: Transport endpoint is not connected",
      "close PEER_RESET client: not connected any more (reset), seen when sending Ferry's FIN",
      "close IO_ERROR client: IOException",
      "close IO_ERROR upstream: ConnectException: Connection refused");
  }

  @Test
  void aFailedWriteIsPublishedAsWriteFailedUnlessItWasAReset() throws Exception {
    established(ConnectionFixture.config());
    upstream.failWrites(new IOException("Connection reset by peer"));
    f.client.writeInbound(f.bytes("x"));
    f.conn.writeFailed(Side.CLIENT, new IOException("No buffer space available"));
    assertThat(f.published()).containsExactly("close PEER_RESET upstream: write: Connection reset by peer",
      "close WRITE_FAILED client: write: No buffer space available");
  }

  @Test
  void anOverflowIsPublishedWithTheQueuedBytesAndTheHardLimit() throws Exception {
    established(ConnectionFixture.config());
    upstream.stall();
    f.client.writeInbound(f.bytes("y".repeat(2049)));
    assertThat(f.published()).containsExactly(
      "close OVERFLOW upstream: 2049 bytes queued for the upstream, hard limit 2048");
    upstream.resume();
    upstream.received();
  }

  @Test
  void aChannelClosedBeforeTheReleaseIsPublishedAsClosedByItsSide() throws Exception {
    established(ConnectionFixture.config());
    upstream.close();
    assertThat(f.conn.stage()).as("only the release ends it").isEqualTo(ProxyConnection.Stage.ESTABLISHED);
    assertThat(f.published()).containsExactly("close PEER_CLOSED upstream: connection closed");
  }

  @Test
  void faultsAfterTheReleaseBeganAreNotPublished() throws Exception {
    established(ConnectionFixture.config());
    f.release(CloseReason.PEER_RESET, Side.UPSTREAM);
    f.conn.readFailed(Side.CLIENT, new IOException("Connection reset by peer"));
    f.conn.writeFailed(Side.UPSTREAM, new IOException("Broken pipe"));
    f.conn.overflow(Side.CLIENT, 5000);
    f.conn.closed(Side.CLIENT);
    f.conn.fault(CloseReason.SHUTDOWN, Side.PROXY, "drain timeout");
    assertThat(f.published()).containsExactly("ack 0");
  }

  // ---- the sweep -------------------------------------------------------------------------------------------

  @Test
  void anIdleConnectionIsClosedWhenNoByteMovedForTheIdleTimeout() throws Exception {
    established(ConnectionFixture.config());
    f.client.writeInbound(f.bytes("x"));
    long t0 = System.nanoTime();
    f.conn.sweep(t0);
    f.conn.sweep(t0 + HOUR - 1);
    assertThat(f.published()).isEmpty();
    f.conn.sweep(t0 + HOUR);
    assertThat(f.published()).containsExactly("close IDLE_TIMEOUT proxy: no byte moved for 3600000 ms");
    f.conn.sweep(t0 + 2 * HOUR);
    assertThat(f.published()).as("published once").isEmpty();
  }

  @Test
  void aByteEitherWayRestartsTheQuietTime() throws Exception {
    established(ConnectionFixture.config());
    long t0 = System.nanoTime();
    f.conn.sweep(t0);
    upstream.writeInbound(f.bytes("z"));
    f.conn.sweep(t0 + HOUR);
    f.conn.sweep(t0 + 2 * HOUR - 1);
    assertThat(f.published()).isEmpty();
    f.conn.sweep(t0 + 2 * HOUR);
    assertThat(f.published()).containsExactly("close IDLE_TIMEOUT proxy: no byte moved for 3600000 ms");
  }

  @Test
  void bytesMovingBothWaysKeepTheConnectionAlive() throws Exception {
    established(ConnectionFixture.config());
    long t0 = System.nanoTime();
    f.conn.sweep(t0);
    f.client.writeInbound(f.bytes("q"));
    upstream.writeInbound(f.bytes("a"));
    f.conn.sweep(t0 + HOUR);
    assertThat(f.published()).as("an exchange is activity").isEmpty();
    f.conn.sweep(t0 + 2 * HOUR);
    assertThat(f.published()).containsExactly("close IDLE_TIMEOUT proxy: no byte moved for 3600000 ms");
  }

  @Test
  void withTheIdleTimeoutOffAQuietConnectionStaysOpen() throws Exception {
    established(ConnectionFixture.config().set("idle-timeout", 0));
    long t0 = System.nanoTime();
    f.conn.sweep(t0 + 1000 * HOUR);
    assertThat(f.published()).isEmpty();
  }

  @Test
  void aHalfClosedConnectionIsClosedWhenNoByteMovedForTheHalfClosedTimeout() throws Exception {
    established(ConnectionFixture.config());
    f.client.writeInbound(f.bytes("req"));
    fin(f.client);
    long t0 = System.nanoTime();
    f.conn.sweep(t0);
    f.conn.sweep(t0 + MINUTE - 1);
    assertThat(f.published()).isEmpty();
    f.conn.sweep(t0 + MINUTE);
    assertThat(f.published()).containsExactly("close HALF_CLOSED_TIMEOUT proxy: the client sent its FIN and no byte "
      + "moved for 60000 ms");
    f.conn.sweep(t0 + HOUR);
    assertThat(f.published()).as("and no idle timeout after it").isEmpty();
  }

  @Test
  void theHalfClosedTimeoutCountsFromTheFinNotFromTheLastByte() throws Exception {
    established(ConnectionFixture.config());
    f.client.writeInbound(f.bytes("req"));
    long second = Duration.ofSeconds(1).toNanos();
    f.conn.sweep(System.nanoTime() - 50 * second);
    fin(f.client);
    long atFin = System.nanoTime();
    f.conn.sweep(atFin + MINUTE - second);
    assertThat(f.published()).as("59 s after the FIN (and 109 s after the last byte)").isEmpty();
    f.conn.sweep(atFin + MINUTE);
    assertThat(f.published()).containsExactly("close HALF_CLOSED_TIMEOUT proxy: the client sent its FIN and no byte "
      + "moved for 60000 ms");
  }

  @Test
  void theSweepHasNoTimersBeforeTheConnectAndAfterTheEnd() throws Exception {
    f = new ConnectionFixture(vertx, ConnectionFixture.config(), true);
    f.start();
    f.conn.sweep(System.nanoTime() + 1000 * HOUR);
    assertThat(f.published()).as("connecting").isEmpty();
    f.attempts.get(0).succeed();
    upstream = f.attempts.get(0).channel;
    fin(f.client);
    fin(upstream);
    assertThat(f.published()).hasSize(1);
    f.conn.sweep(System.nanoTime() + 1000 * HOUR);
    assertThat(f.published()).as("closed in order").isEmpty();
  }

  @Test
  void theSweepCountsTheBytesRelayedSinceItsLastRun() throws Exception {
    established(ConnectionFixture.config());
    f.client.writeInbound(f.bytes("12345"));
    upstream.writeInbound(f.bytes("678"));
    f.conn.sweep(System.nanoTime());
    assertThat(bytesTotal(Direction.UPSTREAM)).isEqualTo(5);
    assertThat(bytesTotal(Direction.DOWNSTREAM)).isEqualTo(3);
    assertThat(f.info.bytesUpstream()).isEqualTo(5);
    assertThat(f.info.bytesDownstream()).isEqualTo(3);
    f.client.writeInbound(f.bytes("90"));
    f.conn.sweep(System.nanoTime());
    f.conn.sweep(System.nanoTime());
    assertThat(bytesTotal(Direction.UPSTREAM)).isEqualTo(7);
    assertThat(bytesTotal(Direction.DOWNSTREAM)).isEqualTo(3);
    assertThat(f.info.bytesUpstream()).isEqualTo(7);
    assertThat(upstream.received()).isEqualTo("1234590");
    assertThat(f.client.received()).isEqualTo("678");
  }
}
