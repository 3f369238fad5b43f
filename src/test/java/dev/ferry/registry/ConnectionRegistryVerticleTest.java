package dev.ferry.registry;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.MetricNames;
import dev.ferry.support.AccessLogCapture;
import dev.ferry.support.Await;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * One registry shard on its own ({@link ConnectionRegistryVerticle}), deployed on Vert.x and driven by the messages a
 * listener sends it, with a consumer in the owner's place: the release orders it sends, the meters and the access
 * log it writes, the watchdog's leaks and the admin queries' answers. The whole path through a running Ferry is
 * {@link ConcurrentCloseTest}; the table's rules alone are {@link ConnectionTableTest}.
 */
class ConnectionRegistryVerticleTest {

  private static final String OWNER = "test.owner";
  private static final Duration SHORT = Duration.ofMillis(100);

  private final FerryMetrics metrics = new FerryMetrics(new SimpleMeterRegistry());
  private final BlockingQueue<ReleaseOrder> orders = new LinkedBlockingQueue<>();
  private Vertx vertx;
  private String deployment;

  @BeforeEach
  void owner() throws Exception {
    vertx = Vertx.vertx();
    LocalCodec.registerAll(vertx.eventBus());
    MessageConsumer<ReleaseOrder> owner = vertx.eventBus().localConsumer(OWNER, m -> orders.add(m.body()));
    get(owner.completion());
  }

  @AfterEach
  void close() throws Exception {
    get(vertx.close());
  }

  private void deploy(Duration releaseTimeout, Duration watchdogInterval, boolean accessLog) throws Exception {
    deployment = get(vertx.deployVerticle(new ConnectionRegistryVerticle(0, metrics, releaseTimeout,
      watchdogInterval, accessLog)));
  }

  /** A shard whose watchdog would count a leak only after an hour. */
  private void deploy() throws Exception {
    deploy(Duration.ofHours(1), Duration.ofMillis(50), true);
  }

  private static <T> T get(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private void send(Object message) {
    vertx.eventBus().send(Addresses.registry(0), message);
  }

  private static ConnectionInfo info(long id, String route) {
    return new ConnectionInfo(id, route, "10.0.0." + id + ":4000", System.currentTimeMillis(), System.nanoTime());
  }

  private ConnectionInfo open(long id, String route) {
    ConnectionInfo info = info(id, route);
    send(new ConnectionOpened(info, OWNER));
    return info;
  }

  private JsonObject query(JsonObject q) throws Exception {
    return get(vertx.eventBus().<JsonObject>request(Addresses.registryQuery(0), q)).body();
  }

  /** The shard's listing; sent after earlier messages from this thread, it also waits until they were handled. */
  private JsonObject list(int limit) throws Exception {
    return query(new JsonObject().put("op", "list").put("limit", limit));
  }

  private String kill(long id) throws Exception {
    return query(new JsonObject().put("op", "kill").put("id", id)).getString("status");
  }

  private long opened(String route) {
    return (long) metrics.registry().get(MetricNames.CONNECTIONS_OPENED).tag(MetricNames.TAG_ROUTE, route).counter()
      .count();
  }

  private long durations(String route) {
    return metrics.registry().get(MetricNames.CONNECTION_DURATION).tag(MetricNames.TAG_ROUTE, route).timer().count();
  }

  private ReleaseOrder nextOrder() throws InterruptedException {
    ReleaseOrder o = orders.poll(10, TimeUnit.SECONDS);
    assertThat(o).as("a release order").isNotNull();
    return o;
  }

  @Test
  void theFirstCloseRequestOrdersTheReleaseAndTheAckEndsTheConnectionWithOneAccessLine() throws Exception {
    deploy();
    try (AccessLogCapture access = new AccessLogCapture()) {
      ConnectionInfo info = new ConnectionInfo(7, "web", "10.0.0.7:4000", System.currentTimeMillis(),
        System.nanoTime() - 5_000_000);
      info.upstream("127.0.0.1:7101");
      info.connected(2_500_000);
      info.bytes(3, 2);
      send(new ConnectionOpened(info, OWNER));
      list(10);
      assertThat(metrics.connectionsOpen()).isEqualTo(1);
      assertThat(opened("web")).isEqualTo(1);

      send(new CloseRequest(7, CloseReason.PEER_RESET, Side.CLIENT, "Connection reset by peer"));
      assertThat(nextOrder()).isEqualTo(new ReleaseOrder(7, CloseReason.PEER_RESET, Side.CLIENT));
      assertThat(metrics.connectionsClosing()).isEqualTo(1);
      send(new CloseRequest(7, CloseReason.IDLE_TIMEOUT, Side.PROXY, "later"));
      send(new ReleaseAck(7, 0));
      list(10);

      assertThat(orders).as("one order only").isEmpty();
      assertThat(metrics.preventedTotal(CloseReason.IDLE_TIMEOUT)).isEqualTo(1);
      assertThat(metrics.closedTotal(CloseReason.PEER_RESET, Side.CLIENT)).isEqualTo(1);
      assertThat(metrics.closedTotal()).isEqualTo(1);
      assertThat(metrics.connectionsOpen()).isZero();
      assertThat(metrics.connectionsClosing()).isZero();
      assertThat(durations("web")).isEqualTo(1);
      assertThat(metrics.leaksTotal()).isZero();
      assertThat(metrics.doubleFreeDetectedTotal()).isZero();
      assertThat(list(10).getInteger("total")).as("the ack removed it").isZero();

      assertThat(access.lines()).hasSize(1);
      JsonObject line = access.lines().get(0);
      assertThat(line.getLong("id")).isEqualTo(7);
      assertThat(line.getString("route")).isEqualTo("web");
      assertThat(line.getString("client")).isEqualTo("10.0.0.7:4000");
      assertThat(line.getString("upstream")).isEqualTo("127.0.0.1:7101");
      assertThat(line.getString("reason")).isEqualTo(CloseReason.PEER_RESET.label());
      assertThat(line.getString("side")).isEqualTo("client");
      assertThat(line.getString("detail")).isEqualTo("Connection reset by peer");
      assertThat(line.getLong("bytes_upstream")).isEqualTo(3);
      assertThat(line.getLong("bytes_downstream")).isEqualTo(2);
      assertThat(line.getDouble("connect_ms")).isEqualTo(2.5);
      assertThat(line.getDouble("duration_ms")).as("from its accept, 5 ms before").isBetween(5.0, 10_000.0);
    }
  }

  @Test
  void aConnectionNeverConnectedHasNoConnectTimeAndItsPreambleIsLogged() throws Exception {
    deploy();
    try (AccessLogCapture access = new AccessLogCapture()) {
      ConnectionInfo info = open(1, "web");
      info.client("192.0.2.1:5000");
      info.serverName("a.example");
      send(new CloseRequest(1, CloseReason.PROTOCOL_ERROR, Side.CLIENT, "bad header"));
      nextOrder();
      send(new ReleaseAck(1, 0));
      list(1);
      JsonObject line = access.lines().get(0);
      assertThat(line.containsKey("connect_ms")).isTrue();
      assertThat(line.getValue("connect_ms")).isNull();
      assertThat(line.getString("client")).isEqualTo("192.0.2.1:5000");
      assertThat(line.getString("peer")).isEqualTo("10.0.0.1:4000");
      assertThat(line.getString("server_name")).isEqualTo("a.example");
    }
  }

  @Test
  void aShardWithoutAccessLogWritesNone() throws Exception {
    deploy(Duration.ofHours(1), Duration.ofMillis(50), false);
    try (AccessLogCapture access = new AccessLogCapture()) {
      open(1, "web");
      send(new CloseRequest(1, CloseReason.PEER_CLOSED, Side.UPSTREAM, "closed in order"));
      nextOrder();
      send(new ReleaseAck(1, 0));
      list(1);
      assertThat(metrics.closedTotal(CloseReason.PEER_CLOSED, Side.UPSTREAM)).as("released all the same")
        .isEqualTo(1);
      assertThat(access.lines()).isEmpty();
    }
  }

  @Test
  void aCloseRequestForAnUnknownConnectionOrdersNothingAndIsCountedAsPrevented() throws Exception {
    deploy();
    send(new CloseRequest(9, CloseReason.WRITE_FAILED, Side.UPSTREAM, "x"));
    list(1);
    assertThat(orders).isEmpty();
    assertThat(metrics.preventedTotal(CloseReason.WRITE_FAILED)).isEqualTo(1);
    assertThat(metrics.connectionsClosing()).isZero();
  }

  @Test
  void anAckWithoutAPendingReleaseIsADetectedDoubleFreeAndChangesNothing() throws Exception {
    deploy();
    try (AccessLogCapture access = new AccessLogCapture()) {
      open(1, "web");
      send(new ReleaseAck(1, 0));
      send(new ReleaseAck(2, 0));
      JsonObject listing = list(10);
      assertThat(metrics.doubleFreeDetectedTotal()).isEqualTo(2);
      assertThat(metrics.closedTotal()).isZero();
      assertThat(metrics.connectionsOpen()).isEqualTo(1);
      assertThat(listing.getInteger("total")).as("the open one stays").isEqualTo(1);
      assertThat(access.lines()).isEmpty();
    }
  }

  @Test
  void anAckThatStillHoldsBuffersIsALeakOfTheConnection() throws Exception {
    deploy();
    for (int held : new int[] {0, 2}) {
      long id = 10 + held;
      open(id, "web");
      send(new CloseRequest(id, CloseReason.PEER_RESET, Side.CLIENT, ""));
      nextOrder();
      send(new ReleaseAck(id, held));
      list(1);
      assertThat(metrics.leaksTotal(LeakKind.CONNECTION)).as("held %d", held).isEqualTo(held == 0 ? 0 : 1);
    }
    assertThat(metrics.closedTotal()).as("released all the same").isEqualTo(2);
  }

  @Test
  void openedTwiceIsCountedOnce() throws Exception {
    deploy();
    ConnectionInfo info = open(1, "web");
    send(new ConnectionOpened(info, OWNER));
    send(new ConnectionOpened(info(1, "api"), OWNER, false));
    list(1);
    assertThat(metrics.connectionsOpen()).isEqualTo(1);
    assertThat(opened("web")).isEqualTo(1);
  }

  @Test
  void aRouteChosenAfterTheAcceptIsCountedInTheChosenRouteOnce() throws Exception {
    deploy();
    ConnectionInfo info = info(1, "lead");
    send(new ConnectionOpened(info, OWNER, false));
    list(1);
    assertThat(metrics.connectionsOpen()).as("open, counted in no route yet").isEqualTo(1);
    assertThat(metrics.openedTotal()).isZero();

    info.route("chosen");
    send(new RouteChosen(1));
    list(1);
    assertThat(opened("chosen")).isEqualTo(1);
    send(new RouteChosen(1));
    send(new RouteChosen(2));
    list(1);
    assertThat(opened("chosen")).as("once").isEqualTo(1);
    assertThat(metrics.openedTotal()).isEqualTo(1);

    send(new CloseRequest(1, CloseReason.PEER_CLOSED, Side.CLIENT, ""));
    nextOrder();
    send(new ReleaseAck(1, 0));
    list(1);
    assertThat(metrics.openedTotal()).as("not counted again at the release").isEqualTo(1);
    assertThat(metrics.connectionsOpen()).isZero();
  }

  @Test
  void aConnectionEndedBeforeItsRouteWasChosenCountsInItsLeadRouteAtTheRelease() throws Exception {
    deploy();
    send(new ConnectionOpened(info(1, "lead"), OWNER, false));
    send(new CloseRequest(1, CloseReason.PROTOCOL_ERROR, Side.CLIENT, "no server name"));
    nextOrder();
    send(new ReleaseAck(1, 0));
    list(1);
    assertThat(opened("lead")).isEqualTo(1);
    assertThat(metrics.openedTotal()).isEqualTo(1);
    assertThat(metrics.closedTotal(CloseReason.PROTOCOL_ERROR, Side.CLIENT)).isEqualTo(1);
  }

  @Test
  void theWatchdogCountsAReleaseNotAcknowledgedInTimeOnceAndTheLateAckStillEndsIt() throws Exception {
    deploy(SHORT, Duration.ofMillis(20), true);
    open(1, "web");
    send(new CloseRequest(1, CloseReason.PEER_RESET, Side.CLIENT, ""));
    nextOrder();
    Await.until("the watchdog counts the leak", () -> metrics.leaksTotal(LeakKind.RELEASE) == 1);
    Thread.sleep(SHORT.toMillis() * 2);
    assertThat(metrics.leaksTotal(LeakKind.RELEASE)).as("once").isEqualTo(1);
    Logger logger = (Logger) LoggerFactory.getLogger(ConnectionRegistryVerticle.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    try {
      send(new ReleaseAck(1, 0));
      list(1);
    } finally {
      logger.detachAppender(appender);
    }
    assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage)
      .containsExactly("conn=1 release acknowledged after the watchdog counted it as a leak");
    assertThat(metrics.closedTotal()).isEqualTo(1);
    assertThat(metrics.leaksTotal()).isEqualTo(1);
    assertThat(metrics.doubleFreeDetectedTotal()).isZero();
  }

  @Test
  void theWatchdogLeavesAReleaseWithinItsTimeAlone() throws Exception {
    deploy(Duration.ofSeconds(30), Duration.ofMillis(10), true);
    open(1, "web");
    send(new CloseRequest(1, CloseReason.PEER_RESET, Side.CLIENT, ""));
    nextOrder();
    Thread.sleep(200);
    assertThat(metrics.leaksTotal()).isZero();
  }

  @Test
  void theListingIsByIdUpToItsLimitWithTheTotalAndEachState() throws Exception {
    deploy();
    // 17 before 1: in the shard's hash table they share a bucket, in that order; the listing is by id all the same.
    open(17, "web");
    open(1, "web");
    open(2, "api");
    send(new CloseRequest(2, CloseReason.ADMIN_KILL, Side.PROXY, ""));
    JsonObject listing = list(2);
    assertThat(listing.getInteger("total")).isEqualTo(3);
    JsonArray connections = listing.getJsonArray("connections");
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < connections.size(); i++) {
      JsonObject c = connections.getJsonObject(i);
      seen.add(c.getLong("id") + " " + c.getString("route") + " " + c.getString("state"));
    }
    assertThat(seen).containsExactly("1 web OPEN", "2 api CLOSING");
    assertThat(list(0).getJsonArray("connections")).isEmpty();
  }

  @Test
  void aKillOrdersTheReleaseOnceAndTellsWhatItFound() throws Exception {
    deploy();
    open(4, "web");
    assertThat(kill(5)).isEqualTo("not-found");
    assertThat(orders).isEmpty();
    assertThat(kill(4)).isEqualTo("closing");
    assertThat(nextOrder()).isEqualTo(new ReleaseOrder(4, CloseReason.ADMIN_KILL, Side.PROXY));
    assertThat(kill(4)).isEqualTo("already-closing");
    assertThat(metrics.preventedTotal(CloseReason.ADMIN_KILL)).isEqualTo(1);
    send(new ReleaseAck(4, 0));
    assertThat(kill(4)).as("released: gone").isEqualTo("not-found");
    assertThat(orders).isEmpty();
    assertThat(metrics.closedTotal(CloseReason.ADMIN_KILL, Side.PROXY)).isEqualTo(1);
  }

  @Test
  void anUnknownQueryFailsWith400() throws Exception {
    deploy();
    assertThatThrownBy(() -> query(new JsonObject().put("op", "drop")))
      .isInstanceOf(ExecutionException.class)
      .cause().isInstanceOf(ReplyException.class)
      .satisfies(e -> {
        assertThat(((ReplyException) e).failureCode()).isEqualTo(400);
        assertThat(e.getMessage()).isEqualTo("unknown op drop");
      });
  }

  @Test
  void anUnknownMessageIsIgnored() throws Exception {
    deploy();
    open(1, "web");
    send("hello");
    assertThat(list(1).getInteger("total")).isEqualTo(1);
    assertThat(metrics.connectionsOpen()).isEqualTo(1);
  }

  @Test
  void stoppingWithConnectionsNotReleasedWarnsHowMany() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(ConnectionRegistryVerticle.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    try {
      deploy();
      get(vertx.undeploy(deployment));
      deploy();
      open(1, "web");
      list(1);
      get(vertx.undeploy(deployment));
      assertThat(appender.list).filteredOn(e -> e.getLevel() == Level.WARN)
        .extracting(ILoggingEvent::getFormattedMessage)
        .containsExactly("conn=- registry shard 0 stopping with 1 connections not released");
    } finally {
      logger.detachAppender(appender);
    }
  }

  @Test
  void anUndeployedShardCountsNoLeak() throws Exception {
    deploy(Duration.ofMillis(300), Duration.ofMillis(10), true);
    open(1, "web");
    send(new CloseRequest(1, CloseReason.PEER_RESET, Side.CLIENT, ""));
    nextOrder();
    get(vertx.undeploy(deployment));
    Thread.sleep(600);
    assertThat(metrics.leaksTotal()).as("its watchdog stopped with it").isZero();
  }
}
