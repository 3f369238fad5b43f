package dev.ferry.bench;

import dev.ferry.metrics.FerryMetrics;
import dev.ferry.registry.Addresses;
import dev.ferry.registry.CloseRequest;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.ConnectionOpened;
import dev.ferry.registry.ConnectionRegistryVerticle;
import dev.ferry.registry.LocalCodec;
import dev.ferry.registry.ReleaseAck;
import dev.ferry.registry.ReleaseOrder;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.AbstractVerticle;
import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The connection registry through the real event bus, with the real {@link ConnectionRegistryVerticle} shards,
 * {@link LocalCodec} and {@link FerryMetrics} on a {@link PrometheusMeterRegistry}, as {@code Ferry} assembles them.
 * <p>
 * One "owner" verticle plays the listener: it sends from its own event loop (as a listener does), receives the
 * release orders on a listener address and acknowledges them. Each invocation pushes a batch of {@link #BATCH}
 * messages and waits until the registry has handled all of them: after the batch the owner sends, to every shard,
 * an opened notice and a close request for a sentinel id; the event bus keeps the order of one sender to one
 * consumer, so the sentinel's release order reaches the owner only after the shard handled the whole batch.
 * <ul>
 *   <li>{@link #closeRequests}: close requests for ids the registry does not know (the suppressed path: table
 *       lookup, prevented-double-free counter). Score = close requests per second.</li>
 *   <li>{@link #lifecycle}: one connection's whole conversation: opened, close request, release order back to the
 *       owner, ack (table insert, CLOSING, RELEASED, counters, duration timer). Score = connections per second; 4
 *       event-bus messages each.</li>
 *   <li>{@link #busBaseline}: the same batch of bare messages to a consumer that only counts: what the event bus
 *       alone costs per message, on the same threads.</li>
 * </ul>
 * {@code metrics}: {@code off}, no Vert.x metrics; {@code all}, every Vert.x Micrometer metric ({@code vertx_eventbus_*}
 * meters are updated per message), as Ferry ran until the event-bus category was disabled; {@code production}, as Ferry
 * runs now: Vert.x metrics on, the {@code EVENT_BUS} category off. Ferry's event loop pool is the listeners (the shards
 * share them); here it is 1 + shards, so that the sender and the shards each have a loop.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m", "-XX:+UseParallelGC"})
public class RegistryBench {

  static final int BATCH = 20_000;
  private static final String OWNER = Addresses.listener(0);
  private static final String BASELINE = "bench.baseline.";

  @Param({"1", "2", "4"})
  public int shards;

  @Param({"off", "all", "production"})
  public String metrics;

  private Vertx vertx;
  private FerryMetrics ferryMetrics;
  private Owner owner;
  private long nextId = 1_000_000;

  /** The listener stand-in: sends from its event loop, receives release orders, acknowledges them. */
  static final class Owner extends AbstractVerticle {
    final int shards;
    volatile CountDownLatch done;
    /** Release orders still expected for the ordinary ids of the current batch (lifecycle only). */
    int pendingOrders;
    long sentinelBase;

    Owner(int shards) {
      this.shards = shards;
    }

    @Override
    public void start() {
      EventBus bus = vertx.eventBus();
      bus.<ReleaseOrder>localConsumer(OWNER, m -> onOrder(bus, m.body()));
    }

    private void onOrder(EventBus bus, ReleaseOrder order) {
      long id = order.id();
      bus.send(Addresses.registry(Addresses.shardOf(id, shards)), new ReleaseAck(id, 0));
      if (id >= sentinelBase) {
        done.countDown();
      } else if (--pendingOrders == 0) {
        sendSentinels(bus);
      }
    }

    void sendSentinels(EventBus bus) {
      for (int s = 0; s < shards; s++) {
        long id = sentinelBase + s;
        String shard = Addresses.registry(Addresses.shardOf(id, shards));
        bus.send(shard, new ConnectionOpened(new ConnectionInfo(id, "bench", "bench", 0, System.nanoTime()), OWNER));
        bus.send(shard, new CloseRequest(id, CloseReason.PEER_CLOSED, Side.CLIENT, "sentinel"));
      }
    }

    Context ctx() {
      return context;
    }
  }

  /** The baseline's consumer, one per shard on its own event loop like a registry shard: it only counts. */
  static final class Sink extends AbstractVerticle {
    static volatile CountDownLatch done;
    static volatile int expected;
    private final int index;
    private int seen;

    Sink(int index) {
      this.index = index;
    }

    @Override
    public void start() {
      vertx.eventBus().<Long>localConsumer(BASELINE + index, m -> {
        if (++seen == expected) {
          seen = 0;
          done.countDown();
        }
      });
    }
  }

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    VertxOptions options = new VertxOptions().setEventLoopPoolSize(1 + shards);
    if (!metrics.equals("off")) {
      MicrometerMetricsOptions m = new MicrometerMetricsOptions().setEnabled(true)
        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true));
      if (metrics.equals("production")) {
        m.addDisabledMetricsCategory(MetricsDomain.EVENT_BUS);
      }
      options.setMetricsOptions(m);
      vertx = Vertx.builder().with(options).withMetrics(new MicrometerMetricsFactory(registry)).build();
    } else {
      vertx = Vertx.builder().with(options).build();
    }
    LocalCodec.registerAll(vertx.eventBus());
    ferryMetrics = new FerryMetrics(registry);
    int[] shard = {0};
    vertx.deployVerticle(() -> new ConnectionRegistryVerticle(shard[0]++, ferryMetrics, Duration.ofSeconds(30),
        Duration.ofSeconds(1), false), new DeploymentOptions().setInstances(shards))
      .await(10, TimeUnit.SECONDS);
    int[] sink = {0};
    vertx.deployVerticle(() -> new Sink(sink[0]++), new DeploymentOptions().setInstances(shards))
      .await(10, TimeUnit.SECONDS);
    owner = new Owner(shards);
    vertx.deployVerticle(owner).await(10, TimeUnit.SECONDS);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    try {
      // The last sentinels' acks may still be on their way when the last invocation returns.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while ((ferryMetrics.connectionsOpen() != 0 || ferryMetrics.connectionsClosing() != 0) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      if (ferryMetrics.connectionsOpen() != 0 || ferryMetrics.connectionsClosing() != 0 || ferryMetrics.leaksTotal() != 0
        || ferryMetrics.doubleFreeDetectedTotal() != 0) {
        throw new IllegalStateException("registry not clean: open " + ferryMetrics.connectionsOpen() + ", closing "
          + ferryMetrics.connectionsClosing() + ", leaks " + ferryMetrics.leaksTotal() + ", double frees detected "
          + ferryMetrics.doubleFreeDetectedTotal());
      }
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private void await(CountDownLatch latch) throws InterruptedException {
    if (!latch.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("registry did not finish a batch within 30 s");
    }
  }

  /**
   * Reserves ids {@code base .. base + BATCH} for a batch and {@code shards} more for its sentinels; the returned latch
   * opens when every shard has handled its sentinel, i.e. the whole batch.
   */
  private CountDownLatch beginBatch(long base) {
    nextId += BATCH + shards;
    CountDownLatch latch = new CountDownLatch(shards);
    owner.done = latch;
    owner.sentinelBase = base + BATCH;
    return latch;
  }

  /** BATCH close requests for unknown ids: each is looked up and counted as a prevented double free. */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void closeRequests() throws InterruptedException {
    long base = nextId;
    CountDownLatch latch = beginBatch(base);
    owner.ctx().runOnContext(v -> {
      EventBus bus = vertx.eventBus();
      for (long id = base; id < base + BATCH; id++) {
        bus.send(Addresses.registry(Addresses.shardOf(id, shards)),
          new CloseRequest(id, CloseReason.PEER_CLOSED, Side.CLIENT, "bench"));
      }
      owner.sendSentinels(bus);
    });
    await(latch);
  }

  /** BATCH connections: opened + close request, the registry orders the release, the owner acknowledges. */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void lifecycle() throws InterruptedException {
    long base = nextId;
    CountDownLatch latch = beginBatch(base);
    owner.ctx().runOnContext(v -> {
      owner.pendingOrders = BATCH;
      EventBus bus = vertx.eventBus();
      long now = System.nanoTime();
      for (long id = base; id < base + BATCH; id++) {
        String shard = Addresses.registry(Addresses.shardOf(id, shards));
        bus.send(shard, new ConnectionOpened(new ConnectionInfo(id, "bench", "bench", 0, now), OWNER));
        bus.send(shard, new CloseRequest(id, CloseReason.PEER_CLOSED, Side.CLIENT, "bench"));
      }
    });
    await(latch);
  }

  /** BATCH bare messages (a boxed Long) from the owner's loop to counting consumers (one per shard, own loops). */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void busBaseline() throws InterruptedException {
    CountDownLatch latch = new CountDownLatch(shards);
    Sink.expected = BATCH / shards;
    Sink.done = latch;
    owner.ctx().runOnContext(v -> {
      EventBus bus = vertx.eventBus();
      for (long i = 0; i < BATCH; i++) {
        bus.send(BASELINE + (int) (i % shards), i);
      }
    });
    await(latch);
  }
}
