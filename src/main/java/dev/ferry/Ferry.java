package dev.ferry;

import dev.ferry.admin.AdminVerticle;
import dev.ferry.config.ConfigWatcher;
import dev.ferry.config.FerryOptions;
import dev.ferry.config.TransportMode;
import dev.ferry.config.EchoOptions;
import dev.ferry.config.PoolOptions;
import dev.ferry.config.RouteOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.config.WeightedUpstream;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.NettyLeakHook;
import dev.ferry.proxy.DescriptorBudget;
import dev.ferry.proxy.EchoUpstreamVerticle;
import dev.ferry.proxy.ListenerVerticle;
import dev.ferry.proxy.ProxyContext;
import dev.ferry.proxy.Route;
import dev.ferry.proxy.ServerTls;
import dev.ferry.upstream.UpstreamPool;
import dev.ferry.registry.ConnectionRegistryVerticle;
import dev.ferry.registry.LocalCodec;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One running Ferry: its Vert.x, the registry shards, the listeners, the admin port and (when no upstream is
 * configured) the embedded echo upstream. {@link #start} returns once everything listens; {@link #shutdown} drains
 * and stops in order: listeners first (they need the registry to release), then the registry, admin and echo.
 */
public final class Ferry {

  private static final Logger log = LoggerFactory.getLogger(Ferry.class);

  private final FerryOptions options;
  private final Vertx vertx;
  private final PrometheusMeterRegistry meterRegistry;
  private final FerryMetrics metrics;
  private final TransportChoice transport;
  private final AtomicBoolean ready = new AtomicBoolean();
  private ProxyContext proxy;
  private AdminVerticle admin;
  private EchoUpstreamVerticle echo;
  private String listenersId;
  private String registryId;
  private String adminId;
  private String echoId;
  private Future<Void> shutdown;
  // Reload (issue #5): set only when started from a file with configured upstreams; closed first on shutdown.
  private ConfigWatcher watcher;
  /** How often certificate files are checked for a change: the config file's scan period. */
  private final Duration certificateScan;
  private long certificateTimer = -1;

  private Ferry(FerryOptions options, Vertx vertx, PrometheusMeterRegistry meterRegistry, TransportChoice transport,
                Duration certificateScan) {
    this.transport = transport;
    this.options = options;
    this.certificateScan = certificateScan;
    this.vertx = vertx;
    this.meterRegistry = meterRegistry;
    this.metrics = new FerryMetrics(meterRegistry);
  }

  /**
   * Starts Ferry. Fails (and leaves nothing running) if a port cannot be bound or the required transport is
   * missing.
   */
  public static Future<Ferry> start(FerryOptions options) {
    return start(options, null);
  }

  /**
   * Starts Ferry; when {@code configPath} is not null and a route has upstreams of its own (not the embedded echo),
   * the file is watched and a valid change of a route's pool applies to new connections without touching open ones.
   */
  public static Future<Ferry> start(FerryOptions options, String configPath) {
    return start(options, configPath, ConfigWatcher.DEFAULT_SCAN_PERIOD);
  }

  /** {@link #start(FerryOptions, String)} with the file re-read every {@code reloadScanPeriod}. */
  public static Future<Ferry> start(FerryOptions options, String configPath, Duration reloadScanPeriod) {
    return launch(options, reloadScanPeriod).map(ferry -> ferry.watch(configPath, reloadScanPeriod));
  }

  private synchronized Ferry watch(String configPath, Duration scanPeriod) {
    if (configPath != null && shutdown == null && proxy.routes().stream().anyMatch(r -> !r.echo())) {
      watcher = new ConfigWatcher(vertx, configPath, System.getenv(), options, scanPeriod,
        (route, pool) -> proxy.route(route).reload(pool)).start();
    }
    return this;
  }

  private static Future<Ferry> launch(FerryOptions options, Duration scanPeriod) {
    PrometheusMeterRegistry meterRegistry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    // process_files_open_files and process_files_max_files: Vert.x's JVM meters do not include them, and every
    // connection costs two descriptors (DescriptorBudget). Micrometer's names, which common dashboards know.
    new FileDescriptorMetrics().bindTo(meterRegistry);
    TransportChoice transport = TransportChoice.of(options.transport());
    VertxOptions vertxOptions = new VertxOptions()
      // Registry shards share the listeners' event loops: a lifecycle message between a listener and the shard on
      // its own loop is a queued task, not a cross-thread wake-up (5.6 context switches per connection measured
      // with separate loops, 0.1 shared; docs/benchmarks.md). Delivery stays asynchronous either way.
      .setEventLoopPoolSize(Math.max(options.effectiveInstances(), options.registry().shards()))
      .setMetricsOptions(new MicrometerMetricsOptions()
        .setEnabled(true)
        .setJvmMetricsEnabled(true)
        // The embedded echo upstream is a Vert.x net server (the proxy's own sockets are Netty channels); the local
        // label keeps its vertx_net_server_* series apart from any other. It is a configured address: bounded.
        .addLabels(Label.LOCAL)
        // The event bus carries only Ferry's own lifecycle messages, which Ferry counts itself; Vert.x's meters for
        // it look a meter up per message: 3x the cost of a close request in JMH, 5 % of a churn profile.
        .addDisabledMetricsCategory(MetricsDomain.EVENT_BUS)
        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true)));
    Vertx vertx = Vertx.builder()
      .with(vertxOptions)
      .withMetrics(new MicrometerMetricsFactory(meterRegistry))
      .withTransport(transport.transport())
      .build();
    Ferry ferry = new Ferry(options, vertx, meterRegistry, transport,
      scanPeriod == null || scanPeriod.isZero() || scanPeriod.isNegative() ? ConfigWatcher.DEFAULT_SCAN_PERIOD
        : scanPeriod);
    CompletableFuture<Ferry> started = new CompletableFuture<>();
    ferry.deploy().onComplete(ar -> {
      if (ar.succeeded()) {
        started.complete(ferry);
      } else {
        NettyLeakHook.detach(ferry.metrics);
        closeVertx(vertx, () -> started.completeExceptionally(ar.cause()));
      }
    });
    return Future.fromCompletionStage(started);
  }

  /**
   * Closes Vert.x from a plain thread, then runs {@code then}: a close started on an event loop completes on that
   * loop, which the close itself stops, so it would never complete.
   */
  private static void closeVertx(Vertx vertx, Runnable then) {
    Thread closer = new Thread(() -> vertx.close().onComplete(c -> then.run()), "ferry-vertx-close");
    closer.start();
  }

  private Future<Ferry> deploy() {
    if (transport.requiredButMissing(options.transport())) {
      return Future.failedFuture(new IllegalStateException("transport: epoll required but unavailable: "
        + transport.fallback()));
    }
    transport.log(options.transport());
    boolean epoll = transport.actual() == TransportMode.EPOLL;
    for (RouteOptions route : options.routes()) {
      if (route.splice() && route.tlsEngine()) {
        // Only inherited: a splice: true written beside TLS is refused by the configuration.
        log.warn("conn=- route {}: splice: true (from the top level) does not apply: its bytes pass through a TLS "
          + "engine ({}), so they are relayed through buffers", route.name(),
          route.tls().terminates() ? "tls.mode terminate" : "upstream-tls");
      } else if (route.splice() && !epoll) {
        log.warn("conn=- route {}: splice: true needs native epoll, the transport is {}; bytes are relayed through "
          + "buffers instead", route.name(), transport.actual().configValue());
      } else if (route.splice()) {
        log.info("conn=- route {}: splice: bulk streams (4 read bursts of 16 KiB or more in a row) move with "
          + "splice(2)", route.name());
      }
    }
    LocalCodec.registerAll(vertx.eventBus());
    NettyLeakHook.attach(metrics);
    AtomicInteger shard = new AtomicInteger();
    return deployEcho().compose(echoAddress -> {
      // Before the listeners bind: what is open now is the JVM's and Vert.x's own (DescriptorBudget).
      DescriptorBudget descriptors = DescriptorBudget.ofThisProcess(options, echoAddress != null);
      if (descriptors.lowered()) {
        log.warn("conn=- {}", descriptors.describe());
      } else {
        log.info("conn=- {}", descriptors.describe());
      }
      proxy = new ProxyContext(options, metrics, routes(echoAddress), transport.actual(), descriptors);
      watchCertificates();
      return vertx.deployVerticle(() -> new ConnectionRegistryVerticle(shard.getAndIncrement(), metrics,
          options.registry().releaseTimeout(), options.registry().watchdogInterval(), options.accessLog()),
        new DeploymentOptions().setInstances(options.registry().shards()));
    }).compose(id -> {
      registryId = id;
      return vertx.deployVerticle(() -> new ListenerVerticle(proxy),
        new DeploymentOptions().setInstances(options.effectiveInstances()));
    }).compose(id -> {
      listenersId = id;
      admin = new AdminVerticle(options.admin(), options.registry().shards(), meterRegistry, ready::get, proxy);
      return vertx.deployVerticle(admin);
    }).map(id -> {
      adminId = id;
      ready.set(true);
      List<String> routes = new ArrayList<>();
      for (Route route : proxy.routes()) {
        routes.add((options.shorthand() ? "" : route.name() + " ") + route.options().listen().host() + ":"
          + route.boundPort() + " -> " + (route.echo() ? "echo " : "") + route.pool().options().upstreams().stream()
          .map(u -> u.address() + (u.weight() == 1 ? "" : " (weight " + u.weight() + ")")).toList());
      }
      log.info("conn=- Ferry ready: {} {} ({} listener instances, {} registry shards), admin {}:{}",
        options.shorthand() ? "proxy" : "routes", String.join(", ", routes), options.effectiveInstances(),
        options.registry().shards(), options.admin().host(), adminPort());
      return this;
    });
  }

  /**
   * Each route at run time, with its pool: its own upstreams, or the embedded echo upstream when it has none. A
   * certificate or key that does not load fails the start with a {@link dev.ferry.config.ConfigException}.
   */
  private List<Route> routes(UpstreamAddress echoAddress) {
    List<Route> routes = new ArrayList<>();
    for (int i = 0; i < options.routes().size(); i++) {
      RouteOptions route = options.routes().get(i);
      boolean toEcho = route.pool().upstreams().isEmpty();
      PoolOptions pool = toEcho ? route.pool().withUpstreams(List.of(WeightedUpstream.of(echoAddress))) : route.pool();
      routes.add(ProxyContext.route(route, new UpstreamPool(route.name(), pool, meterRegistry), toEcho, metrics,
        options.shorthand() ? "" : "routes[" + i + "]."));
    }
    return routes;
  }

  /**
   * Every scan period, the certificate files of each {@code tls.mode: terminate} route are read on a worker thread,
   * and a changed, valid pair serves new handshakes ({@link ServerTls#reloadIfChanged}). One check at a time.
   */
  private void watchCertificates() {
    List<ServerTls> tls = proxy.routes().stream().map(Route::serverTls).filter(java.util.Objects::nonNull).toList();
    if (tls.isEmpty()) {
      return;
    }
    log.info("conn=- certificates: checking {} route(s)' files every {} ms", tls.size(), certificateScan.toMillis());
    certificateTimer = vertx.setTimer(certificateScan.toMillis(), t -> checkCertificates(tls));
  }

  private void checkCertificates(List<ServerTls> tls) {
    vertx.executeBlocking(() -> {
      tls.forEach(ServerTls::reloadIfChanged);
      return null;
    }, false).onComplete(ar -> {
      if (ar.failed()) {
        log.error("conn=- certificates: the check failed", ar.cause());
      }
      synchronized (this) {
        if (shutdown == null) {
          certificateTimer = vertx.setTimer(certificateScan.toMillis(), t -> checkCertificates(tls));
        }
      }
    });
  }

  /** Starts the embedded echo upstream when a route has no upstreams of its own; its address, or null. */
  private Future<UpstreamAddress> deployEcho() {
    if (options.routes().stream().noneMatch(r -> r.pool().upstreams().isEmpty())) {
      return Future.succeededFuture(null);
    }
    EchoOptions e = options.echo();
    echo = new EchoUpstreamVerticle(e.host(), e.port());
    return vertx.deployVerticle(echo).map(id -> {
      echoId = id;
      log.info("conn=- a route has no upstream: it proxies to the embedded echo upstream");
      return new UpstreamAddress(e.host(), echo.actualPort());
    });
  }

  /**
   * Drains and stops: readiness turns false, listeners stop accepting and give open connections
   * {@code shutdown.drain-timeout} to finish, the rest are closed with reason SHUTDOWN; every connection is released
   * before the registry stops. Idempotent.
   */
  public synchronized Future<Void> shutdown() {
    if (shutdown != null) {
      return shutdown;
    }
    ready.set(false);
    if (watcher != null) {
      watcher.close();
    }
    if (certificateTimer >= 0) {
      vertx.cancelTimer(certificateTimer);
    }
    log.info("conn=- shutting down: draining for up to {} ms", options.drainTimeout().toMillis());
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    undeploy(listenersId)
      .compose(v -> {
        if (proxy != null) {
          proxy.routes().forEach(r -> r.pool().close());
        }
        return undeploy(registryId);
      })
      .compose(v -> undeploy(adminId))
      .compose(v -> undeploy(echoId))
      .onComplete(ar -> {
        NettyLeakHook.detach(metrics);
        if (ar.failed()) {
          log.error("conn=- shutdown: undeploy failed", ar.cause());
        }
        closeVertx(vertx, () -> {
          log.info("conn=- Ferry stopped: drained {}, forced {}; connections open {}, buffers held {}",
            drained(), forced(), metrics.connectionsOpen(), metrics.buffersHeld());
          if (ar.failed()) {
            stopped.completeExceptionally(ar.cause());
          } else {
            stopped.complete(null);
          }
        });
      });
    shutdown = Future.fromCompletionStage(stopped);
    return shutdown;
  }

  private Future<Void> undeploy(String id) {
    return id == null ? Future.succeededFuture() : vertx.undeploy(id);
  }

  public FerryOptions options() {
    return options;
  }

  public Vertx vertx() {
    return vertx;
  }

  public FerryMetrics metrics() {
    return metrics;
  }

  public boolean ready() {
    return ready.get();
  }

  public boolean nativeTransport() {
    return vertx.isNativeTransportEnabled();
  }

  /** The transport in use: epoll or NIO. */
  public TransportMode transport() {
    return transport.actual();
  }

  /** The port of the first route (the shorthand's one route), or -1 before it is bound. */
  public int proxyPort() {
    return proxy == null ? -1 : proxy.routes().get(0).boundPort();
  }

  /** The port of route {@code name}, or -1 before it is bound (or when there is no such route). */
  public int proxyPort(String name) {
    Route route = proxy == null ? null : proxy.route(name);
    return route == null ? -1 : route.boundPort();
  }

  public int adminPort() {
    return admin == null ? -1 : admin.actualPort();
  }

  /** The embedded echo upstream's port, or -1 when upstreams are configured. */
  public int echoPort() {
    return echo == null ? -1 : echo.actualPort();
  }

  /** The routes at run time (empty before start-up completed). */
  public List<Route> routes() {
    return proxy == null ? List.of() : proxy.routes();
  }

  public int drained() {
    return proxy == null ? 0 : proxy.drained();
  }

  public int forced() {
    return proxy == null ? 0 : proxy.forced();
  }
}
