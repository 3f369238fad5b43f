package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.BalanceAlgorithm;
import dev.ferry.config.PassiveHealthOptions;
import dev.ferry.config.PoolOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.config.WeightedUpstream;
import dev.ferry.metrics.MetricNames;
import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.Peer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoop;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Active checks against real loopback upstreams ({@link Backend}), on a Vert.x event loop with Vert.x's transport
 * and resolver, as the listeners will run them. Netty's leak detector runs at paranoid for this class (see
 * {@code LeakCheckExtension}): a check that kept a buffer fails the build.
 */
class HealthCheckerTest {

  private static final Duration INTERVAL = Duration.ofMillis(200);

  private static Vertx vertx;
  private static EventLoop loop;
  private static Bootstrap template;

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<AutoCloseable> resources = new ArrayList<>();
  private HealthChecker checker;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
    VertxInternal vx = (VertxInternal) vertx;
    loop = vx.createEventLoopContext().nettyEventLoop();
    template = new Bootstrap().group(loop).channelFactory(vx.transport().channelFactory(false))
      .resolver(vx.nameResolver().nettyAddressResolverGroup());
  }

  @AfterAll
  static void closeVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    if (checker != null) {
      checker.close().get(10, TimeUnit.SECONDS);
      assertThat(checker.openChannels()).as("every check channel closed").isZero();
      assertThat(checker.finishedProbes()).as("every check finished once").isEqualTo(checker.probes());
    }
    for (AutoCloseable r : resources) {
      r.close();
    }
  }

  private Backend backend(Backend.Behaviour behaviour) throws IOException {
    Backend b = new Backend(behaviour);
    resources.add(b);
    return b;
  }

  private static ActiveHealthOptions checks(Duration timeout, int rise, int fall, String send, String expect) {
    return new ActiveHealthOptions(true, INTERVAL, timeout, rise, fall, send, expect);
  }

  private UpstreamPool pool(ActiveHealthOptions active, UpstreamAddress... addresses) {
    List<WeightedUpstream> ups = new ArrayList<>();
    for (UpstreamAddress a : addresses) {
      ups.add(WeightedUpstream.of(a));
    }
    UpstreamPool pool = new UpstreamPool("db", new PoolOptions(ups, BalanceAlgorithm.ROUND_ROBIN,
      PassiveHealthOptions.DEFAULTS, active, 50), registry, Ticker.SYSTEM, Pools.SEED);
    checker = new HealthChecker(pool, loop, template);
    checker.start();
    return pool;
  }

  private double checksCounted(Upstream u, CheckResult result) {
    return registry.get(MetricNames.HEALTH_CHECKS).tag(MetricNames.TAG_UPSTREAM, u.label())
      .tag(MetricNames.TAG_RESULT, result.label()).counter().count();
  }

  private static String lastCheck(UpstreamPool pool, Upstream u, String field) {
    for (Object o : pool.describe().getJsonArray("upstreams")) {
      JsonObject j = (JsonObject) o;
      if (j.getString("upstream").equals(u.label()) && j.containsKey("last_check")) {
        return j.getJsonObject("last_check").getString(field);
      }
    }
    return null;
  }

  /** A Redis-like upstream: answers each {@code PING\r\n} with {@code +PONG\r\n} while healthy, else an error. */
  private static Backend.Behaviour redis(AtomicBoolean healthy, List<String> requests) {
    return peer -> {
      requests.add(new String(peer.readExactly(6), StandardCharsets.US_ASCII));
      peer.write(healthy.get() ? "+PONG\r\n" : "-ERR LOADING Redis is loading the dataset in memory\r\n");
    };
  }

  @Test
  void aConnectOnlyCheckPassesAgainstAListeningUpstream() throws Exception {
    Backend up = backend(Backend.HOLD);
    UpstreamPool pool = pool(checks(null, 2, 3, null, null), up.address());
    Upstream u = pool.upstreams().get(0);

    Await.until("3 passed checks", () -> checksCounted(u, CheckResult.PASSED) >= 3);

    assertThat(u.up()).isTrue();
    assertThat(lastCheck(pool, u, "result")).isEqualTo("passed");
    assertThat(lastCheck(pool, u, "detail")).startsWith("connected (");
    up.awaitAccepted(3).awaitClosedByPeer();
  }

  @Test
  void aRefusedConnectTakesANewUpstreamDownAtTheFirstCheck() throws Exception {
    UpstreamPool pool = pool(checks(null, 2, 3, null, null), Backend.refusingAddress());
    Upstream u = pool.upstreams().get(0);

    Await.until("the upstream DOWN", () -> !u.up());

    assertThat(checksCounted(u, CheckResult.CONNECT_FAILED)).isGreaterThanOrEqualTo(1);
    assertThat(lastCheck(pool, u, "result")).isEqualTo("connect_failed");
    assertThat(lastCheck(pool, u, "detail")).startsWith("connect: ");
    assertThat(pool.describe().getJsonArray("upstreams").getJsonObject(0).getString("state")).isEqualTo("down");
  }

  @Test
  void sendAndExpectPassAgainstARedisLikeUpstream() throws Exception {
    List<String> requests = new CopyOnWriteArrayList<>();
    Backend redis = backend(redis(new AtomicBoolean(true), requests));
    UpstreamPool pool = pool(checks(null, 2, 3, "PING\\r\\n", "+PONG"), redis.address());
    Upstream u = pool.upstreams().get(0);

    Await.until("2 passed checks", () -> checksCounted(u, CheckResult.PASSED) >= 2);

    assertThat(requests).first().isEqualTo("PING\r\n");
    assertThat(lastCheck(pool, u, "detail")).startsWith("expected reply received");
  }

  @Test
  void upAndDownFollowRiseAndFallThroughRealChecks() throws Exception {
    AtomicBoolean healthy = new AtomicBoolean(true);
    Backend redis = backend(redis(healthy, new CopyOnWriteArrayList<>()));
    UpstreamPool pool = pool(checks(null, 2, 3, "PING\\r\\n", "+PONG"), redis.address());
    Upstream u = pool.upstreams().get(0);
    Await.until("a passed check", () -> checksCounted(u, CheckResult.PASSED) >= 1);

    healthy.set(false);
    double passedAtFlip = checksCounted(u, CheckResult.PASSED);
    Await.until("the upstream DOWN", () -> !u.up());
    double failed = checksCounted(u, CheckResult.UNEXPECTED_REPLY) + checksCounted(u, CheckResult.TIMEOUT);
    assertThat(failed).as("fall = 3 failed checks in a row before DOWN").isGreaterThanOrEqualTo(3);
    assertThat(checksCounted(u, CheckResult.PASSED) - passedAtFlip).as("at most one check in flight at the flip")
      .isLessThanOrEqualTo(1);
    assertThat(registry.get(MetricNames.UPSTREAM_UP).gauge().value()).isZero();
    assertThat(lastCheck(pool, u, "detail")).contains("-ERR LOADING");

    healthy.set(true);
    double passedBefore = checksCounted(u, CheckResult.PASSED);
    Await.until("the upstream UP again", u::up);
    assertThat(checksCounted(u, CheckResult.PASSED) - passedBefore).as("rise = 2 passed checks before UP")
      .isGreaterThanOrEqualTo(2);
    assertThat(registry.get(MetricNames.UPSTREAM_UP).gauge().value()).isEqualTo(1);
  }

  @Test
  void aCheckThatGetsNoReplyTimesOut() throws Exception {
    Backend silent = backend(Backend.HOLD);
    UpstreamPool pool = pool(checks(Duration.ofMillis(100), 2, 3, "PING\\r\\n", "+PONG"), silent.address());
    Upstream u = pool.upstreams().get(0);

    Await.until("a timed-out check", () -> checksCounted(u, CheckResult.TIMEOUT) >= 1);

    assertThat(lastCheck(pool, u, "result")).isEqualTo("timeout");
    assertThat(lastCheck(pool, u, "detail")).startsWith("no \"+PONG\" within 100 ms");
    assertThat(u.up()).isFalse();
    silent.awaitAccepted(1).awaitClosedByPeer();
  }

  @Test
  void aWrongAnswerFailsTheCheckAsAnUnexpectedReply() throws Exception {
    Backend wrong = backend(peer -> peer.write("-ERR unknown command 'PING'\r\n"));
    UpstreamPool pool = pool(checks(Duration.ofMillis(100), 2, 3, "PING\\r\\n", "+PONG"), wrong.address());
    Upstream u = pool.upstreams().get(0);

    Await.until("an unexpected reply", () -> checksCounted(u, CheckResult.UNEXPECTED_REPLY) >= 1);

    assertThat(lastCheck(pool, u, "detail")).startsWith("no \"+PONG\" within 100 ms: got 29 bytes "
      + "\"-ERR unknown command 'PING'\\r\\n\"");
    assertThat(checksCounted(u, CheckResult.TIMEOUT)).as("an answer, even a wrong one, is not a timeout").isZero();
  }

  @Test
  void anUpstreamThatClosesWithoutTheExpectedReplyFailsAtOnce() throws Exception {
    Backend closer = backend(peer -> {
      peer.write("BYE\r\n");
      peer.close();
    });
    UpstreamPool pool = pool(checks(null, 2, 3, null, "+PONG"), closer.address());
    Upstream u = pool.upstreams().get(0);

    Await.until("an unexpected reply", () -> checksCounted(u, CheckResult.UNEXPECTED_REPLY) >= 1);

    assertThat(lastCheck(pool, u, "detail")).startsWith("closed by the upstream while reading: got 5 bytes "
      + "\"BYE\\r\\n\"");
  }

  @Test
  void aHostNameIsResolvedForEachCheck() throws Exception {
    Backend up = backend(Backend.HOLD);
    UpstreamPool pool = pool(checks(null, 2, 3, null, null), new UpstreamAddress("localhost", up.address().port()));
    Upstream u = pool.upstreams().get(0);

    Await.until("2 passed checks", () -> checksCounted(u, CheckResult.PASSED) >= 2);
    assertThat(u.label()).isEqualTo("localhost:" + up.address().port());
  }

  @Test
  void nothingIsCheckedWhileActiveChecksAreOff() throws Exception {
    Backend up = backend(Backend.HOLD);
    pool(checks(null, 2, 3, null, null).withEnabled(false), up.address());

    Await.until("3 rounds", () -> checker.rounds() >= 3);

    assertThat(checker.probes()).isZero();
    assertThat(up.accepted()).isEmpty();
  }

  @Test
  void checksFollowAReload() throws Exception {
    Backend a = backend(Backend.HOLD);
    Backend b = backend(Backend.HOLD);
    UpstreamPool pool = pool(checks(null, 2, 3, null, null), a.address());
    Await.until("a checked", () -> a.accepted().size() >= 1);

    pool.replace(pool.options().withUpstreams(List.of(WeightedUpstream.of(b.address()))));
    Await.until("b checked", () -> b.accepted().size() >= 1);
    long round = checker.rounds();
    Await.until("two more rounds", () -> checker.rounds() >= round + 2);
    int aChecks = a.accepted().size();
    Await.until("two more rounds", () -> checker.rounds() >= round + 4);

    assertThat(a.accepted()).as("a removed upstream is no longer checked").hasSize(aChecks);
  }

  @Test
  void closeCancelsTheNextRoundAndClosesTheChecksInFlight() throws Exception {
    Backend silent = backend(Backend.HOLD);
    UpstreamPool pool = new UpstreamPool("db", PoolOptions.of(List.of(silent.address())).withActive(
      new ActiveHealthOptions(true, Duration.ofSeconds(30), null, 2, 3, null, "+PONG")), registry, Ticker.SYSTEM, 1);
    HealthChecker c = new HealthChecker(pool, loop, template);
    c.start();
    Peer checkSocket = silent.awaitAccepted(1);

    c.close().get(10, TimeUnit.SECONDS);

    checkSocket.awaitClosedByPeer();
    assertThat(c.openChannels()).isZero();
    assertThat(c.roundScheduled()).isFalse();
    assertThat(c.finishedProbes()).isEqualTo(c.probes()).isEqualTo(1);
    for (CheckResult r : CheckResult.values()) {
      assertThat(checksCounted(pool.upstreams().get(0), r)).as("an aborted check is no result").isZero();
    }
    c.close().get(10, TimeUnit.SECONDS);
  }

  @Test
  void everyCheckSocketIsClosedExactlyOnceWhateverTheResult() throws Exception {
    List<String> requests = new CopyOnWriteArrayList<>();
    Backend pong = backend(redis(new AtomicBoolean(true), requests));
    Backend silent = backend(Backend.HOLD);
    Backend wrong = backend(peer -> peer.write("-ERR\r\n"));
    Backend closer = backend(Peer::close);
    UpstreamPool pool = pool(new ActiveHealthOptions(true, Duration.ofMillis(50), null, 1, 1, "PING\\r\\n",
      "+PONG"), pong.address(), silent.address(), wrong.address(), closer.address(), Backend.refusingAddress());

    Await.until("5 rounds", () -> checker.rounds() >= 5);
    checker.close().get(10, TimeUnit.SECONDS);

    assertThat(checker.finishedProbes()).isEqualTo(checker.probes());
    assertThat(checker.openChannels()).isZero();
    double reported = 0;
    for (Upstream u : pool.upstreams()) {
      for (CheckResult r : CheckResult.values()) {
        reported += checksCounted(u, r);
      }
    }
    assertThat(reported).as("every probe reported once, but those aborted by close")
      .isBetween((double) checker.probes() - 5, (double) checker.probes());
    for (Backend b : List.of(pong, silent, wrong, closer)) {
      for (Peer p : b.accepted()) {
        p.awaitClosedByPeer();
      }
    }
  }
}
