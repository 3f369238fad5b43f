package dev.ferry.proxy;

import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.MetricNames;
import dev.ferry.registry.LocalCodec;
import dev.ferry.support.TestConfig;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.Timer;
import io.netty.channel.ConnectTimeoutException;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.ferry.proxy.ConnectionFixture.A;
import static dev.ferry.proxy.ConnectionFixture.B;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ProxyConnection}'s connect and its one release, step by step on embedded sockets ({@link ConnectionFixture}):
 * retries across the pool, the reasons of a connect that fails, the release that closes both sides once their
 * queued bytes are flushed (or the flush timeout passed) and acknowledges once, and a release that meets a connect in
 * flight. The in-order end, the faults and the timers: {@link ProxyConnectionEndTest}.
 */
class ProxyConnectionTest {

  private static Vertx vertx;
  private ConnectionFixture f;

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

  private ConnectionFixture fixture(TestConfig config) throws Exception {
    f = new ConnectionFixture(vertx, config, true);
    return f;
  }


  private Timer connectTimer(String outcome) {
    return f.metrics.registry().get(MetricNames.UPSTREAM_CONNECT).tag(MetricNames.TAG_OUTCOME, outcome).timer();
  }

  private static UpstreamAddress other(UpstreamAddress u) {
    return u.equals(A) ? B : A;
  }

  // ---- connect ---------------------------------------------------------------------------------------------

  @Test
  void connectsToAnUpstreamOfTheRouteAndRelaysBothWays() throws Exception {
    fixture(ConnectionFixture.config());
    long before = System.nanoTime();
    ConnectionFixture.Attempt a = f.start();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CONNECTING);
    assertThat(f.upstreamState(ConnectionFixture.target(a))).isEqualTo("active 1, failures 0");
    a.succeed();
    long after = System.nanoTime();

    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.ESTABLISHED);
    assertThat(f.info.stage()).isEqualTo("ESTABLISHED");
    assertThat(f.info.upstream()).isEqualTo(ConnectionFixture.target(a).toString());
    assertThat(f.info.connectNanos()).as("accept to connected").isBetween(0L, after - f.info.openedAtNanos());
    assertThat(connectTimer("success").totalTime(TimeUnit.NANOSECONDS)).as("the attempt's duration")
      .isBetween(0.0, (double) (after - before));
    assertThat(f.connects(ConnectionFixture.target(a), "success")).isEqualTo(1);
    assertThat(f.client.config().isAutoRead()).as("the client reads once connected").isTrue();
    f.client.writeInbound(f.bytes("ping"));
    assertThat(a.channel.received()).isEqualTo("ping");
    a.channel.writeInbound(f.bytes("pong"));
    assertThat(f.client.received()).isEqualTo("pong");
    assertThat(f.published()).isEmpty();
    assertThat(connectTimer("success").count()).isEqualTo(1);
  }

  @Test
  void aClientFinBeforeTheConnectIsPassedOnOnceConnected() throws Exception {
    fixture(ConnectionFixture.config());
    ConnectionFixture.Attempt a = f.start();
    f.client.writeInbound(f.bytes("request"));
    f.client.pipeline().fireUserEventTriggered(io.netty.channel.socket.ChannelInputShutdownEvent.INSTANCE);
    assertThat(f.conn.stage()).as("recorded, no stage of its own yet").isEqualTo(ProxyConnection.Stage.CONNECTING);
    a.succeed();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CLIENT_FIN);
    assertThat(a.channel.received()).isEqualTo("request");
    assertThat(a.channel.isOutputShutdown()).isTrue();
  }

  @Test
  void aRefusedConnectMovesToAnUpstreamNotTriedYet() throws Exception {
    fixture(ConnectionFixture.config().set("connect.attempts", 2));
    ConnectionFixture.Attempt first = f.start();
    first.fail(new ConnectException("Connection refused"));
    ConnectionFixture.Attempt second = f.next();
    assertThat(f.attempts).hasSize(2);
    assertThat(ConnectionFixture.target(second)).isEqualTo(other(ConnectionFixture.target(first)));
    assertThat(f.upstreamState(ConnectionFixture.target(first))).isEqualTo("active 0, failures 1");
    second.succeed();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.ESTABLISHED);
    assertThat(f.upstreamState(ConnectionFixture.target(second))).isEqualTo("active 1, failures 0");
    assertThat(f.published()).isEmpty();
  }

  @Test
  void withOneUpstreamTheRetryGoesToItAgainAndItsSuccessClearsTheFailure() throws Exception {
    fixture(ConnectionFixture.config().set("upstreams", List.of(A)).set("connect.attempts", 2));
    f.start().fail(new ConnectException("Connection refused"));
    assertThat(f.upstreamState(A)).as("taken again by the retry").isEqualTo("active 1, failures 1");
    ConnectionFixture.Attempt second = f.next();
    assertThat(ConnectionFixture.target(second)).isEqualTo(A);
    second.succeed();
    assertThat(f.upstreamState(A)).isEqualTo("active 1, failures 0");
    assertThat(f.connects(A, "failure")).isEqualTo(1);
    assertThat(f.connects(A, "success")).isEqualTo(1);
  }

  @Test
  void whenTheLastAttemptIsRefusedTheClientIsClosedWithConnectFailed() throws Exception {
    fixture(ConnectionFixture.config().set("connect.attempts", 2));
    f.start().fail(new ConnectException("Connection refused"));
    ConnectionFixture.Attempt second = f.next();
    second.fail(new ConnectException("Connection refused"));
    assertThat(f.attempts).as("no third attempt").hasSize(2);
    assertThat(f.published()).containsExactly("close CONNECT_FAILED upstream: attempt 2 to "
      + ConnectionFixture.target(second) + ": ConnectException: Connection refused");
    assertThat(f.upstreamState(A)).isEqualTo("active 0, failures 1");
    assertThat(f.upstreamState(B)).isEqualTo("active 0, failures 1");
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.CONNECTING);
  }

  @Test
  void aConnectThatTimesOutClosesTheClientWithConnectTimeout() throws Exception {
    fixture(ConnectionFixture.config().set("connect.attempts", 1));
    ConnectionFixture.Attempt a = f.start();
    a.fail(new ConnectTimeoutException("connection timed out after 5000 ms"));
    assertThat(f.published()).containsExactly("close CONNECT_TIMEOUT upstream: attempt 1 to "
      + ConnectionFixture.target(a) + ": ConnectTimeoutException: connection timed out after 5000 ms");
    assertThat(connectTimer("failure").count()).isEqualTo(1);
    assertThat(f.connects(ConnectionFixture.target(a), "failure")).isEqualTo(1);
  }

  @Test
  void aFailureWithoutAMessageIsNamedByItsClass() throws Exception {
    fixture(ConnectionFixture.config().set("connect.attempts", 1));
    ConnectionFixture.Attempt a = f.start();
    a.fail(new java.io.IOException());
    assertThat(f.published()).containsExactly("close CONNECT_FAILED upstream: attempt 1 to "
      + ConnectionFixture.target(a) + ": IOException");
  }

  @Test
  void withNoUpstreamToTryTheClientIsClosedWithConnectFailed() throws Exception {
    fixture(ConnectionFixture.config());
    f.pool.drain(A.toString());
    f.pool.drain(B.toString());
    assertThat(f.start()).as("no connect").isNull();
    assertThat(f.published()).containsExactly("close CONNECT_FAILED upstream: no upstream to try in route default "
      + "(every one draining, or none healthy and no panic)");
  }

  // ---- the release -----------------------------------------------------------------------------------------

  @Test
  void theReleaseClosesBothSidesAfterTheirFlushAndAcknowledgesOnce() throws Exception {
    fixture(ConnectionFixture.config().set("limits.max-connections", 1).set("limits.max-connections-per-source", 1));
    EmbeddedSocket upstream = f.established();
    f.client.writeInbound(f.bytes("abc"));
    upstream.writeInbound(f.bytes("de"));
    f.release(CloseReason.PEER_RESET, Side.CLIENT);

    assertThat(f.client.isOpen()).isFalse();
    assertThat(upstream.isOpen()).isFalse();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(f.info.stage()).isEqualTo("RELEASED");
    assertThat(f.published()).containsExactly("ack 0");
    assertThat(f.upstreamState(ConnectionFixture.target(f.attempts.get(0)))).isEqualTo("active 0, failures 0");
    assertThat(f.info.bytesUpstream()).isEqualTo(3);
    assertThat(f.info.bytesDownstream()).isEqualTo(2);
    assertThat(f.route.limits().admitSource(ConnectionFixture.SOURCE)).as("its source's place is given back")
      .isTrue();
    assertThat(f.route.limits().admitSource(ConnectionFixture.SOURCE)).as("one place, not two").isFalse();
    assertThat(f.processLimits.admitTotal()).as("so is its place in the process's limit").isTrue();
    assertThat(f.processLimits.admitTotal()).as("one place, not two").isFalse();
    assertThat(f.metrics.doubleFreeDetectedTotal()).isZero();
  }

  @Test
  void aSecondReleaseOrderIsADetectedDoubleFreeAndChangesNothing() throws Exception {
    fixture(ConnectionFixture.config());
    f.established();
    f.release(CloseReason.PEER_RESET, Side.CLIENT);
    f.release(CloseReason.IDLE_TIMEOUT, Side.PROXY);
    assertThat(f.metrics.doubleFreeDetectedTotal()).isEqualTo(1);
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void queuedBytesAreFlushedBeforeTheClose() throws Exception {
    fixture(ConnectionFixture.config());
    EmbeddedSocket upstream = f.established();
    upstream.stall();
    f.client.writeInbound(f.bytes("last words"));
    f.release(CloseReason.PEER_CLOSED, Side.CLIENT);
    assertThat(upstream.isOpen()).as("still flushing").isTrue();
    assertThat(f.published()).isEmpty();
    upstream.resume();
    assertThat(upstream.received()).isEqualTo("last words");
    assertThat(upstream.isOpen()).isFalse();
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void aSideThatDoesNotTakeItsBytesIsClosedWithoutFlushAfterTheFlushTimeout() throws Exception {
    fixture(ConnectionFixture.config().set("close.flush-timeout", "5s"));
    EmbeddedSocket upstream = f.established();
    f.client.stall();
    upstream.writeInbound(f.bytes("never read"));
    f.release(CloseReason.IDLE_TIMEOUT, Side.PROXY);
    assertThat(upstream.isOpen()).as("nothing queued toward it: closed at once").isFalse();
    f.advance(Duration.ofMillis(4999));
    assertThat(f.client.isOpen()).isTrue();
    assertThat(f.published()).isEmpty();
    f.advance(Duration.ofMillis(1));
    assertThat(f.client.isOpen()).isFalse();
    assertThat(f.client.received()).as("not flushed").isEmpty();
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void clientBytesArrivingDuringTheReleaseAreDroppedAndNotCounted() throws Exception {
    fixture(ConnectionFixture.config());
    EmbeddedSocket upstream = f.established();
    f.client.stall();
    upstream.writeInbound(f.bytes("queued"));
    f.release(CloseReason.IDLE_TIMEOUT, Side.PROXY);
    var late = f.bytes("late");
    f.client.writeInbound(late);
    assertThat(late.refCnt()).isZero();
    f.advance(Duration.ofSeconds(5));
    assertThat(f.published()).containsExactly("ack 0");
    assertThat(f.info.bytesUpstream()).isZero();
  }

  @Test
  void upstreamBytesArrivingDuringTheReleaseAreDroppedAndNotCounted() throws Exception {
    fixture(ConnectionFixture.config());
    EmbeddedSocket upstream = f.established();
    upstream.stall();
    f.client.writeInbound(f.bytes("queued"));
    f.release(CloseReason.IDLE_TIMEOUT, Side.PROXY);
    var late = f.bytes("late");
    upstream.writeInbound(late);
    assertThat(late.refCnt()).isZero();
    upstream.resume();
    assertThat(upstream.received()).isEqualTo("queued");
    assertThat(f.published()).containsExactly("ack 0");
    assertThat(f.info.bytesDownstream()).isZero();
  }

  @Test
  void aReleaseOfAConnectionWhoseSocketsClosedAlreadyFinishesAtOnce() throws Exception {
    fixture(ConnectionFixture.config());
    EmbeddedSocket upstream = f.established();
    f.client.close();
    upstream.close();
    assertThat(f.published()).containsExactly("close PEER_CLOSED client: connection closed",
      "close PEER_CLOSED upstream: connection closed");
    f.release(CloseReason.PEER_CLOSED, Side.CLIENT);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void noTimerOutlivesTheRelease() throws Exception {
    fixture(ConnectionFixture.config());
    f.established();
    f.release(CloseReason.PEER_RESET, Side.CLIENT);
    assertThat(f.client.runScheduledPendingTasks()).as("nothing scheduled any more").isEqualTo(-1);
  }

  @Test
  void aReleaseBeforeTheUpstreamConnectedAbortsTheConnectWithoutBlamingTheUpstream() throws Exception {
    fixture(ConnectionFixture.config());
    ConnectionFixture.Attempt a = f.start();
    f.release(CloseReason.PEER_RESET, Side.CLIENT);
    assertThat(a.channel.isOpen()).isFalse();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(f.attempts).as("no retry").hasSize(1);
    assertThat(f.upstreamState(ConnectionFixture.target(a))).isEqualTo("active 0, failures 0");
    assertThat(f.connects(ConnectionFixture.target(a), "success")).isZero();
    assertThat(f.connects(ConnectionFixture.target(a), "failure")).isZero();
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void bytesThatArrivedBeforeTheUpstreamAreReleasedWithTheConnection() throws Exception {
    fixture(ConnectionFixture.config());
    f.start();
    var early = f.bytes("too early");
    f.client.writeInbound(early);
    assertThat(early.refCnt()).as("held for the upstream").isOne();
    f.release(CloseReason.PEER_RESET, Side.CLIENT);
    assertThat(early.refCnt()).isZero();
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void aConnectThatWinsTheRaceWithTheReleaseIsClosedAndThenAcknowledged() throws Exception {
    fixture(ConnectionFixture.config());
    ConnectionFixture.Attempt a = f.start();
    a.closeFailsTheConnect = false;
    f.release(CloseReason.ADMIN_KILL, Side.PROXY);
    assertThat(f.conn.stage()).as("waits for the connect in flight").isEqualTo(ProxyConnection.Stage.RELEASING);
    assertThat(f.published()).isEmpty();
    a.succeed();
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(a.channel.isOpen()).as("the late upstream channel is closed, nobody waits for it").isFalse();
    assertThat(f.upstreamState(ConnectionFixture.target(a))).isEqualTo("active 0, failures 0");
    assertThat(f.connects(ConnectionFixture.target(a), "success")).as("the upstream did answer").isEqualTo(1);
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void aConnectThatWinsTheRaceWithTheReleaseStillClearsItsUpstreamsFailures() throws Exception {
    fixture(ConnectionFixture.config().set("upstreams", List.of(A)).set("connect.attempts", 2));
    f.start().fail(new ConnectException("Connection refused"));
    ConnectionFixture.Attempt second = f.next();
    second.closeFailsTheConnect = false;
    f.release(CloseReason.ADMIN_KILL, Side.PROXY);
    assertThat(f.upstreamState(A)).as("before the late answer").isEqualTo("active 1, failures 1");
    second.succeed();
    assertThat(f.upstreamState(A)).as("the upstream did answer: passive health hears it")
      .isEqualTo("active 0, failures 0");
    assertThat(second.channel.isOpen()).isFalse();
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void aRefusedClientIsReleasedWithoutGivingBackAPlaceItNeverHad() throws Exception {
    TestConfig config = ConnectionFixture.config().set("limits.max-connections", 1)
      .set("limits.max-connections-per-source", 1);
    f = new ConnectionFixture(vertx, config, false);
    assertThat(f.route.limits().admitSource(ConnectionFixture.SOURCE)).as("another connection from the source")
      .isTrue();
    // As the listener's accept: the process and the route admit it, its source refuses it.
    Admission admission = f.conn.admission();
    assertThat(admission.admitProcess()).isNull();
    assertThat(admission.admitRoute(f.route.limits(), "")).isNull();
    String refusal = admission.admitSource(ConnectionFixture.SOURCE, "");
    assertThat(refusal).isEqualTo("over limits.max-connections-per-source (1) for " + ConnectionFixture.SOURCE);
    f.conn.fault(CloseReason.LIMIT, Side.PROXY, refusal);
    f.release(CloseReason.LIMIT, Side.PROXY);
    assertThat(f.published()).containsExactly("close LIMIT proxy: " + refusal, "ack 0");
    assertThat(f.route.limits().admitSource(ConnectionFixture.SOURCE)).as("the other one's place stays taken")
      .isFalse();
    assertThat(f.processLimits.admitTotal()).as("the process's place it took is given back").isTrue();
  }

  @Test
  void closingTheChannelsNowClosesWhateverIsOpen() throws Exception {
    fixture(ConnectionFixture.config());
    f.start();
    f.conn.closeChannelsNow();
    assertThat(f.client.isOpen()).isFalse();
    f.release(CloseReason.SHUTDOWN, Side.PROXY);
    assertThat(f.published()).containsExactly("close PEER_CLOSED client: connection closed", "ack 0");
  }

  @Test
  void bytesOfTheUpstreamAloneAreCounted() throws Exception {
    fixture(ConnectionFixture.config());
    EmbeddedSocket upstream = f.established();
    upstream.writeInbound(f.bytes("hello"));
    f.release(CloseReason.PEER_CLOSED, Side.UPSTREAM);
    assertThat(f.info.bytesUpstream()).isZero();
    assertThat(f.info.bytesDownstream()).isEqualTo(5);
  }

  @Test
  void noDescriptorForAnUpstreamSocketIsFerrysOwnLimitNotTheUpstreamsFailure() throws Exception {
    fixture(ConnectionFixture.config().set("connect.attempts", 2));
    ConnectionFixture.Attempt a = f.start();
    a.fail(new java.io.IOException("connect(..) failed: Too many open files"));
    assertThat(f.attempts).as("no retry: every upstream needs a socket").hasSize(1);
    assertThat(f.upstreamState(ConnectionFixture.target(a))).as("no passive-health failure")
      .isEqualTo("active 0, failures 0");
    assertThat(f.published()).singleElement().asString().startsWith(
      "close LIMIT proxy: no descriptor left for an upstream socket (attempt 1 to " + ConnectionFixture.target(a));
    f.release(CloseReason.LIMIT, Side.PROXY);
    assertThat(f.published()).containsExactly("ack 0");
  }

  @Test
  void anUpstreamSocketThatCannotBeCreatedFailsTheAttemptAtOnce() throws Exception {
    fixture(ConnectionFixture.config().set("connect.attempts", 2));
    f.socketFailure = new io.netty.channel.ChannelException("socket() failed: Too many open files");
    assertThat(f.start()).as("no socket").isNull();
    assertThat(f.upstreamState(ConnectionFixture.A)).isEqualTo("active 0, failures 0");
    assertThat(f.upstreamState(ConnectionFixture.B)).isEqualTo("active 0, failures 0");
    assertThat(f.published()).singleElement().asString().startsWith(
      "close LIMIT proxy: no descriptor left for an upstream socket (attempt 1 to ");
    f.release(CloseReason.LIMIT, Side.PROXY);
    assertThat(f.conn.stage()).isEqualTo(ProxyConnection.Stage.RELEASED);
    assertThat(f.published()).containsExactly("ack 0");
  }
}
