package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The complete, typed Ferry configuration.
 *
 * <p>Setters check their own value and throw {@link IllegalArgumentException} with a message
 * {@code "<key>: <reason>"}. Rules that involve several fields are checked by {@link #validate()}.
 * The {@link #FerryOptions(JsonObject) JsonObject constructor} is strict: unknown keys, wrong
 * types and out-of-range values fail with a {@link ConfigException} naming the dotted key.
 */
public class FerryOptions {

  private static final Logger LOG = LoggerFactory.getLogger(FerryOptions.class);

  public static final String DEFAULT_LISTEN_HOST = "0.0.0.0";
  public static final int DEFAULT_LISTEN_PORT = 7000;
  public static final int DEFAULT_LISTEN_BACKLOG = 1024;
  public static final String DEFAULT_ADMIN_HOST = "0.0.0.0";
  public static final int DEFAULT_ADMIN_PORT = 9900;
  /** 0 means one instance per available processor. */
  public static final int DEFAULT_INSTANCES = 0;
  public static final TransportMode DEFAULT_TRANSPORT = TransportMode.AUTO;
  public static final List<UpstreamAddress> DEFAULT_UPSTREAMS = List.of();
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
  public static final int DEFAULT_CONNECT_ATTEMPTS = 3;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);
  public static final int DEFAULT_BUFFER_SOFT_LIMIT = 65536;
  public static final int DEFAULT_BUFFER_HARD_LIMIT = 1048576;
  public static final Duration DEFAULT_CLOSE_FLUSH_TIMEOUT = Duration.ofSeconds(5);
  /** A FIN ends one direction only, as HAProxy does (nginx needs {@code proxy_half_close on}). */
  public static final boolean DEFAULT_HALF_CLOSE = true;
  /**
   * HAProxy bounds a half-closed stream by {@code timeout client-fin}, and without it by {@code timeout client} (50 s
   * in Debian's packaged haproxy.cfg); nginx by {@code proxy_timeout} (10 min). One minute is about HAProxy's, and
   * shorter than Ferry's idle timeout, so half-closed connections do not linger (envoy#41086).
   */
  public static final Duration DEFAULT_HALF_CLOSED_TIMEOUT = Duration.ofMinutes(1);
  public static final int DEFAULT_REGISTRY_SHARDS = 1;
  public static final Duration DEFAULT_RELEASE_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_WATCHDOG_INTERVAL = Duration.ofSeconds(1);
  public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(20);
  public static final boolean DEFAULT_ECHO_ENABLED = true;
  public static final String DEFAULT_ECHO_HOST = "127.0.0.1";
  public static final int DEFAULT_ECHO_PORT = 7001;
  public static final boolean DEFAULT_ACCESS_LOG = true;
  public static final boolean DEFAULT_SPLICE = false;
  /** No admin token: {@code DELETE /connections/{id}} is open to whoever reaches the admin port. */
  public static final String DEFAULT_ADMIN_TOKEN = null;
  public static final int DEFAULT_MAX_CONNECTIONS = 10_000;
  /** 0 = no per-source limit. */
  public static final int DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 0;
  public static final int DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
  public static final int MAX_CONNECTION_LIMIT = 1_000_000;

  public static final int MAX_INSTANCES = 256;
  public static final int MAX_CONNECT_ATTEMPTS = 100;
  public static final int MIN_BUFFER_LIMIT = 1024;
  public static final int MAX_BUFFER_LIMIT = 1 << 30;
  public static final int MAX_REGISTRY_SHARDS = 64;

  private static final Set<String> TOP_KEYS = Set.of("listen", "admin", "instances", "transport", "splice",
      "upstreams", "connect", "idle-timeout", "buffer", "close", "registry", "shutdown", "echo", "log", "limits");

  private String listenHost;
  private int listenPort;
  private int listenBacklog;
  private String adminHost;
  private int adminPort;
  private int instances;
  private TransportMode transport;
  private boolean splice;
  private List<UpstreamAddress> upstreams;
  private Duration connectTimeout;
  private int connectAttempts;
  private Duration idleTimeout;
  private int bufferSoftLimit;
  private int bufferHardLimit;
  private Duration closeFlushTimeout;
  private boolean halfClose;
  private Duration halfClosedTimeout;
  private int registryShards;
  private Duration releaseTimeout;
  private Duration watchdogInterval;
  private Duration drainTimeout;
  private boolean echoEnabled;
  private String echoHost;
  private int echoPort;
  private boolean accessLog;
  private String adminToken;
  private int maxConnections;
  private int maxConnectionsPerSource;
  private int maxBufferedBytes;

  /** All defaults. */
  public FerryOptions() {
    listenHost = DEFAULT_LISTEN_HOST;
    listenPort = DEFAULT_LISTEN_PORT;
    listenBacklog = DEFAULT_LISTEN_BACKLOG;
    adminHost = DEFAULT_ADMIN_HOST;
    adminPort = DEFAULT_ADMIN_PORT;
    instances = DEFAULT_INSTANCES;
    transport = DEFAULT_TRANSPORT;
    splice = DEFAULT_SPLICE;
    upstreams = DEFAULT_UPSTREAMS;
    connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    connectAttempts = DEFAULT_CONNECT_ATTEMPTS;
    idleTimeout = DEFAULT_IDLE_TIMEOUT;
    bufferSoftLimit = DEFAULT_BUFFER_SOFT_LIMIT;
    bufferHardLimit = DEFAULT_BUFFER_HARD_LIMIT;
    closeFlushTimeout = DEFAULT_CLOSE_FLUSH_TIMEOUT;
    halfClose = DEFAULT_HALF_CLOSE;
    halfClosedTimeout = DEFAULT_HALF_CLOSED_TIMEOUT;
    registryShards = DEFAULT_REGISTRY_SHARDS;
    releaseTimeout = DEFAULT_RELEASE_TIMEOUT;
    watchdogInterval = DEFAULT_WATCHDOG_INTERVAL;
    drainTimeout = DEFAULT_DRAIN_TIMEOUT;
    echoEnabled = DEFAULT_ECHO_ENABLED;
    echoHost = DEFAULT_ECHO_HOST;
    echoPort = DEFAULT_ECHO_PORT;
    accessLog = DEFAULT_ACCESS_LOG;
    adminToken = DEFAULT_ADMIN_TOKEN;
    maxConnections = DEFAULT_MAX_CONNECTIONS;
    maxConnectionsPerSource = DEFAULT_MAX_CONNECTIONS_PER_SOURCE;
    maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES;
  }

  /** Copy constructor. */
  public FerryOptions(FerryOptions other) {
    listenHost = other.listenHost;
    listenPort = other.listenPort;
    listenBacklog = other.listenBacklog;
    adminHost = other.adminHost;
    adminPort = other.adminPort;
    instances = other.instances;
    transport = other.transport;
    splice = other.splice;
    upstreams = other.upstreams;
    connectTimeout = other.connectTimeout;
    connectAttempts = other.connectAttempts;
    idleTimeout = other.idleTimeout;
    bufferSoftLimit = other.bufferSoftLimit;
    bufferHardLimit = other.bufferHardLimit;
    closeFlushTimeout = other.closeFlushTimeout;
    halfClose = other.halfClose;
    halfClosedTimeout = other.halfClosedTimeout;
    registryShards = other.registryShards;
    releaseTimeout = other.releaseTimeout;
    watchdogInterval = other.watchdogInterval;
    drainTimeout = other.drainTimeout;
    echoEnabled = other.echoEnabled;
    echoHost = other.echoHost;
    echoPort = other.echoPort;
    accessLog = other.accessLog;
    adminToken = other.adminToken;
    maxConnections = other.maxConnections;
    maxConnectionsPerSource = other.maxConnectionsPerSource;
    maxBufferedBytes = other.maxBufferedBytes;
  }

  /**
   * Reads the YAML-shaped configuration strictly, then {@link #validate() validates} it.
   * Absent keys and {@code null} values keep their defaults. Logs a warning when
   * {@code idle-timeout} is 0.
   *
   * @throws ConfigException on the first problem found
   */
  public FerryOptions(JsonObject json) {
    this();
    Objects.requireNonNull(json, "json");
    ConfigReader.checkKeys(json, "", TOP_KEYS);

    JsonObject listen = ConfigReader.section(json, "listen", Set.of("host", "port", "backlog"));
    set("listen.host", ConfigReader.host(listen.getValue("host"), "listen.host"), this::setListenHost);
    set("listen.port", ConfigReader.integer(listen.getValue("port"), "listen.port", 0, 65535), this::setListenPort);
    set("listen.backlog", ConfigReader.integer(listen.getValue("backlog"), "listen.backlog", 1, 65535),
        this::setListenBacklog);

    JsonObject admin = ConfigReader.section(json, "admin", Set.of("host", "port", "token"));
    set("admin.host", ConfigReader.host(admin.getValue("host"), "admin.host"), this::setAdminHost);
    set("admin.port", ConfigReader.integer(admin.getValue("port"), "admin.port", 0, 65535), this::setAdminPort);
    set("admin.token", ConfigReader.string(admin.getValue("token"), "admin.token"), this::setAdminToken);

    set("instances", ConfigReader.integer(json.getValue("instances"), "instances", 0, MAX_INSTANCES),
        this::setInstances);
    set("transport", ConfigReader.transport(json.getValue("transport"), "transport"), this::setTransport);
    set("splice", ConfigReader.bool(json.getValue("splice"), "splice"), this::setSplice);
    set("upstreams", ConfigReader.upstreams(json.getValue("upstreams"), "upstreams"), this::setUpstreams);

    JsonObject connect = ConfigReader.section(json, "connect", Set.of("timeout", "attempts"));
    set("connect.timeout", ConfigReader.duration(connect.getValue("timeout"), "connect.timeout", false),
        this::setConnectTimeout);
    set("connect.attempts",
        ConfigReader.integer(connect.getValue("attempts"), "connect.attempts", 1, MAX_CONNECT_ATTEMPTS),
        this::setConnectAttempts);

    set("idle-timeout", ConfigReader.duration(json.getValue("idle-timeout"), "idle-timeout", true),
        this::setIdleTimeout);

    JsonObject buffer = ConfigReader.section(json, "buffer", Set.of("soft-limit", "hard-limit"));
    set("buffer.soft-limit",
        ConfigReader.size(buffer.getValue("soft-limit"), "buffer.soft-limit", MIN_BUFFER_LIMIT, MAX_BUFFER_LIMIT),
        this::setBufferSoftLimit);
    set("buffer.hard-limit",
        ConfigReader.size(buffer.getValue("hard-limit"), "buffer.hard-limit", MIN_BUFFER_LIMIT, MAX_BUFFER_LIMIT),
        this::setBufferHardLimit);

    JsonObject close = ConfigReader.section(json, "close", Set.of("flush-timeout", "half-close", "half-closed-timeout"));
    set("close.flush-timeout",
        ConfigReader.duration(close.getValue("flush-timeout"), "close.flush-timeout", false),
        this::setCloseFlushTimeout);
    set("close.half-close", ConfigReader.bool(close.getValue("half-close"), "close.half-close"), this::setHalfClose);
    set("close.half-closed-timeout",
        ConfigReader.duration(close.getValue("half-closed-timeout"), "close.half-closed-timeout", false),
        this::setHalfClosedTimeout);

    JsonObject registry = ConfigReader.section(json, "registry",
        Set.of("shards", "release-timeout", "watchdog-interval"));
    set("registry.shards",
        ConfigReader.integer(registry.getValue("shards"), "registry.shards", 1, MAX_REGISTRY_SHARDS),
        this::setRegistryShards);
    set("registry.release-timeout",
        ConfigReader.duration(registry.getValue("release-timeout"), "registry.release-timeout", false),
        this::setReleaseTimeout);
    set("registry.watchdog-interval",
        ConfigReader.duration(registry.getValue("watchdog-interval"), "registry.watchdog-interval", false),
        this::setWatchdogInterval);

    JsonObject shutdown = ConfigReader.section(json, "shutdown", Set.of("drain-timeout"));
    set("shutdown.drain-timeout",
        ConfigReader.duration(shutdown.getValue("drain-timeout"), "shutdown.drain-timeout", true),
        this::setDrainTimeout);

    JsonObject echo = ConfigReader.section(json, "echo", Set.of("enabled", "host", "port"));
    set("echo.enabled", ConfigReader.bool(echo.getValue("enabled"), "echo.enabled"), this::setEchoEnabled);
    set("echo.host", ConfigReader.host(echo.getValue("host"), "echo.host"), this::setEchoHost);
    set("echo.port", ConfigReader.integer(echo.getValue("port"), "echo.port", 0, 65535), this::setEchoPort);

    JsonObject log = ConfigReader.section(json, "log", Set.of("access"));
    set("log.access", ConfigReader.bool(log.getValue("access"), "log.access"), this::setAccessLog);

    JsonObject limits = ConfigReader.section(json, "limits",
        Set.of("max-connections", "max-connections-per-source", "max-buffered-bytes"));
    set("limits.max-connections", ConfigReader.integer(limits.getValue("max-connections"),
        "limits.max-connections", 0, MAX_CONNECTION_LIMIT), this::setMaxConnections);
    set("limits.max-connections-per-source", ConfigReader.integer(limits.getValue("max-connections-per-source"),
        "limits.max-connections-per-source", 0, MAX_CONNECTION_LIMIT), this::setMaxConnectionsPerSource);
    set("limits.max-buffered-bytes", ConfigReader.size(limits.getValue("max-buffered-bytes"),
        "limits.max-buffered-bytes", MIN_BUFFER_LIMIT, MAX_BUFFER_LIMIT), this::setMaxBufferedBytes);

    validate();
    if (idleTimeout.isZero()) {
      LOG.warn("conn=- idle-timeout is 0: idle connections are never closed");
    }
  }

  /**
   * Checks the rules that involve several fields.
   *
   * @return this
   * @throws ConfigException naming the offending key
   */
  public FerryOptions validate() {
    if (upstreams.isEmpty() && !echoEnabled) {
      throw new ConfigException("upstreams", "must not be empty when echo.enabled is false");
    }
    if (splice && transport == TransportMode.NIO) {
      throw new ConfigException("splice", "requires the epoll transport, but transport is nio");
    }
    if (bufferHardLimit < bufferSoftLimit) {
      throw new ConfigException("buffer.hard-limit",
          "must not be less than buffer.soft-limit (" + bufferSoftLimit + "), got " + bufferHardLimit);
    }
    if (maxBufferedBytes < bufferSoftLimit) {
      throw new ConfigException("limits.max-buffered-bytes",
          "must not be less than buffer.soft-limit (" + bufferSoftLimit + "), got " + maxBufferedBytes);
    }
    if (releaseTimeout.compareTo(closeFlushTimeout) <= 0) {
      throw new ConfigException("registry.release-timeout",
          "must be greater than close.flush-timeout (" + Values.formatDuration(closeFlushTimeout) + "), got "
              + Values.formatDuration(releaseTimeout));
    }
    return this;
  }

  /** The configuration in the YAML shape: durations as strings ({@code 5s}), sizes as integers. */
  public JsonObject toJson() {
    JsonArray ups = new JsonArray();
    upstreams.forEach(u -> ups.add(u.toString()));
    return new JsonObject()
        .put("listen", new JsonObject().put("host", listenHost).put("port", listenPort).put("backlog", listenBacklog))
        .put("admin", new JsonObject().put("host", adminHost).put("port", adminPort).put("token", adminToken))
        .put("instances", instances)
        .put("transport", transport.configValue())
        .put("splice", splice)
        .put("upstreams", ups)
        .put("connect", new JsonObject()
            .put("timeout", Values.formatDuration(connectTimeout))
            .put("attempts", connectAttempts))
        .put("idle-timeout", Values.formatDuration(idleTimeout))
        .put("buffer", new JsonObject().put("soft-limit", bufferSoftLimit).put("hard-limit", bufferHardLimit))
        .put("close", new JsonObject()
            .put("flush-timeout", Values.formatDuration(closeFlushTimeout))
            .put("half-close", halfClose)
            .put("half-closed-timeout", Values.formatDuration(halfClosedTimeout)))
        .put("registry", new JsonObject()
            .put("shards", registryShards)
            .put("release-timeout", Values.formatDuration(releaseTimeout))
            .put("watchdog-interval", Values.formatDuration(watchdogInterval)))
        .put("shutdown", new JsonObject().put("drain-timeout", Values.formatDuration(drainTimeout)))
        .put("echo", new JsonObject().put("enabled", echoEnabled).put("host", echoHost).put("port", echoPort))
        .put("log", new JsonObject().put("access", accessLog))
        .put("limits", new JsonObject()
            .put("max-connections", maxConnections)
            .put("max-connections-per-source", maxConnectionsPerSource)
            .put("max-buffered-bytes", maxBufferedBytes));
  }

  public String listenHost() {
    return listenHost;
  }

  public FerryOptions setListenHost(String listenHost) {
    this.listenHost = checkHost("listen.host", listenHost);
    return this;
  }

  /** 0 asks for an ephemeral port. */
  public int listenPort() {
    return listenPort;
  }

  public FerryOptions setListenPort(int listenPort) {
    this.listenPort = checkRange("listen.port", listenPort, 0, 65535);
    return this;
  }

  public int listenBacklog() {
    return listenBacklog;
  }

  public FerryOptions setListenBacklog(int listenBacklog) {
    this.listenBacklog = checkRange("listen.backlog", listenBacklog, 1, 65535);
    return this;
  }

  public String adminHost() {
    return adminHost;
  }

  public FerryOptions setAdminHost(String adminHost) {
    this.adminHost = checkHost("admin.host", adminHost);
    return this;
  }

  public int adminPort() {
    return adminPort;
  }

  public FerryOptions setAdminPort(int adminPort) {
    this.adminPort = checkRange("admin.port", adminPort, 0, 65535);
    return this;
  }

  /** The effective number of proxy verticle instances: the configured number, or the processor count when it is 0. */
  public int instances() {
    return instances == 0 ? Runtime.getRuntime().availableProcessors() : instances;
  }

  /** 0..{@value #MAX_INSTANCES}; 0 means one per available processor. */
  public FerryOptions setInstances(int instances) {
    this.instances = checkRange("instances", instances, 0, MAX_INSTANCES);
    return this;
  }

  public TransportMode transport() {
    return transport;
  }

  /**
   * Whether established connections move their bytes with {@code splice(2)} (socket to pipe to socket, inside the
   * kernel) instead of reading them into pooled buffers. Native epoll only; byte counts are exact per completed
   * {@code 256 KiB} chunk, so {@code ferry_bytes_total} may undercount a spliced connection by less than one chunk
   * per direction.
   */
  public boolean splice() {
    return splice;
  }

  public FerryOptions setSplice(boolean splice) {
    this.splice = splice;
    return this;
  }

  public FerryOptions setTransport(TransportMode transport) {
    this.transport = checkNotNull("transport", transport);
    return this;
  }

  /** Unmodifiable, in configured order. */
  public List<UpstreamAddress> upstreams() {
    return upstreams;
  }

  /** Rejects null entries and duplicates (host compared ignoring case). */
  public FerryOptions setUpstreams(List<UpstreamAddress> upstreams) {
    checkNotNull("upstreams", upstreams);
    Map<String, Integer> seen = new HashMap<>();
    List<UpstreamAddress> copy = new ArrayList<>(upstreams.size());
    for (int i = 0; i < upstreams.size(); i++) {
      UpstreamAddress address = checkNotNull("upstreams[" + i + "]", upstreams.get(i));
      Integer first = seen.putIfAbsent(ConfigReader.identity(address), i);
      if (first != null) {
        throw new IllegalArgumentException("upstreams[" + i + "]: duplicate of upstreams[" + first + "], got "
            + Values.quote(address.toString()));
      }
      copy.add(address);
    }
    this.upstreams = List.copyOf(copy);
    return this;
  }

  public Duration connectTimeout() {
    return connectTimeout;
  }

  public FerryOptions setConnectTimeout(Duration connectTimeout) {
    this.connectTimeout = checkDuration("connect.timeout", connectTimeout, false);
    return this;
  }

  /** Total connect attempts across upstreams for one client connection. */
  public int connectAttempts() {
    return connectAttempts;
  }

  public FerryOptions setConnectAttempts(int connectAttempts) {
    this.connectAttempts = checkRange("connect.attempts", connectAttempts, 1, MAX_CONNECT_ATTEMPTS);
    return this;
  }

  /** 0 disables the idle timeout. */
  public Duration idleTimeout() {
    return idleTimeout;
  }

  public FerryOptions setIdleTimeout(Duration idleTimeout) {
    this.idleTimeout = checkDuration("idle-timeout", idleTimeout, true);
    return this;
  }

  /** Bytes queued in a sink above which its source is paused. */
  public int bufferSoftLimit() {
    return bufferSoftLimit;
  }

  public FerryOptions setBufferSoftLimit(int bufferSoftLimit) {
    this.bufferSoftLimit = checkRange("buffer.soft-limit", bufferSoftLimit, MIN_BUFFER_LIMIT, MAX_BUFFER_LIMIT);
    return this;
  }

  /** Bytes queued in a sink above which the connection is closed with OVERFLOW. */
  public int bufferHardLimit() {
    return bufferHardLimit;
  }

  public FerryOptions setBufferHardLimit(int bufferHardLimit) {
    this.bufferHardLimit = checkRange("buffer.hard-limit", bufferHardLimit, MIN_BUFFER_LIMIT, MAX_BUFFER_LIMIT);
    return this;
  }

  public Duration closeFlushTimeout() {
    return closeFlushTimeout;
  }

  public FerryOptions setCloseFlushTimeout(Duration closeFlushTimeout) {
    this.closeFlushTimeout = checkDuration("close.flush-timeout", closeFlushTimeout, false);
    return this;
  }

  /** Whether a FIN ends only its own direction ({@code close.half-close}). */
  public boolean halfClose() {
    return halfClose;
  }

  public FerryOptions setHalfClose(boolean halfClose) {
    this.halfClose = halfClose;
    return this;
  }

  /** How long a connection with one direction ended may go without moving a byte ({@code close.half-closed-timeout}). */
  public Duration halfClosedTimeout() {
    return halfClosedTimeout;
  }

  public FerryOptions setHalfClosedTimeout(Duration halfClosedTimeout) {
    this.halfClosedTimeout = checkDuration("close.half-closed-timeout", halfClosedTimeout, false);
    return this;
  }

  public int registryShards() {
    return registryShards;
  }

  public FerryOptions setRegistryShards(int registryShards) {
    this.registryShards = checkRange("registry.shards", registryShards, 1, MAX_REGISTRY_SHARDS);
    return this;
  }

  public Duration releaseTimeout() {
    return releaseTimeout;
  }

  public FerryOptions setReleaseTimeout(Duration releaseTimeout) {
    this.releaseTimeout = checkDuration("registry.release-timeout", releaseTimeout, false);
    return this;
  }

  public Duration watchdogInterval() {
    return watchdogInterval;
  }

  public FerryOptions setWatchdogInterval(Duration watchdogInterval) {
    this.watchdogInterval = checkDuration("registry.watchdog-interval", watchdogInterval, false);
    return this;
  }

  public Duration drainTimeout() {
    return drainTimeout;
  }

  public FerryOptions setDrainTimeout(Duration drainTimeout) {
    this.drainTimeout = checkDuration("shutdown.drain-timeout", drainTimeout, true);
    return this;
  }

  /** Whether to start an embedded echo upstream when {@link #upstreams()} is empty. */
  public boolean echoEnabled() {
    return echoEnabled;
  }

  public FerryOptions setEchoEnabled(boolean echoEnabled) {
    this.echoEnabled = echoEnabled;
    return this;
  }

  public String echoHost() {
    return echoHost;
  }

  public FerryOptions setEchoHost(String echoHost) {
    this.echoHost = checkHost("echo.host", echoHost);
    return this;
  }

  public int echoPort() {
    return echoPort;
  }

  public FerryOptions setEchoPort(int echoPort) {
    this.echoPort = checkRange("echo.port", echoPort, 0, 65535);
    return this;
  }

  /** Whether to write one JSON access-log line per connection. */
  public boolean accessLog() {
    return accessLog;
  }

  public FerryOptions setAccessLog(boolean accessLog) {
    this.accessLog = accessLog;
    return this;
  }

  /** The bearer token {@code DELETE /connections/{id}} requires, or null when none is required. */
  public String adminToken() {
    return adminToken;
  }

  /** Null or empty: no token required. */
  public FerryOptions setAdminToken(String adminToken) {
    this.adminToken = adminToken == null || adminToken.isEmpty() ? null : adminToken;
    return this;
  }

  /** Connections open at once, over all listeners; 0 = unlimited. A client over the limit is closed with LIMIT. */
  public int maxConnections() {
    return maxConnections;
  }

  public FerryOptions setMaxConnections(int maxConnections) {
    this.maxConnections = checkRange("limits.max-connections", maxConnections, 0, MAX_CONNECTION_LIMIT);
    return this;
  }

  /** Connections open at once from one client IP address; 0 = unlimited. */
  public int maxConnectionsPerSource() {
    return maxConnectionsPerSource;
  }

  public FerryOptions setMaxConnectionsPerSource(int maxConnectionsPerSource) {
    this.maxConnectionsPerSource = checkRange("limits.max-connections-per-source", maxConnectionsPerSource, 0,
        MAX_CONNECTION_LIMIT);
    return this;
  }

  /** Bytes queued toward sockets over all connections above which every source is paused until they drain. */
  public int maxBufferedBytes() {
    return maxBufferedBytes;
  }

  public FerryOptions setMaxBufferedBytes(int maxBufferedBytes) {
    this.maxBufferedBytes = checkRange("limits.max-buffered-bytes", maxBufferedBytes, MIN_BUFFER_LIMIT,
        MAX_BUFFER_LIMIT);
    return this;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof FerryOptions)) {
      return false;
    }
    FerryOptions that = (FerryOptions) o;
    return listenPort == that.listenPort
        && listenBacklog == that.listenBacklog
        && adminPort == that.adminPort
        && instances == that.instances
        && connectAttempts == that.connectAttempts
        && bufferSoftLimit == that.bufferSoftLimit
        && bufferHardLimit == that.bufferHardLimit
        && registryShards == that.registryShards
        && echoEnabled == that.echoEnabled
        && echoPort == that.echoPort
        && accessLog == that.accessLog
        && listenHost.equals(that.listenHost)
        && adminHost.equals(that.adminHost)
        && transport == that.transport
        && splice == that.splice
        && upstreams.equals(that.upstreams)
        && connectTimeout.equals(that.connectTimeout)
        && idleTimeout.equals(that.idleTimeout)
        && closeFlushTimeout.equals(that.closeFlushTimeout)
        && halfClose == that.halfClose
        && halfClosedTimeout.equals(that.halfClosedTimeout)
        && releaseTimeout.equals(that.releaseTimeout)
        && watchdogInterval.equals(that.watchdogInterval)
        && drainTimeout.equals(that.drainTimeout)
        && echoHost.equals(that.echoHost)
        && Objects.equals(adminToken, that.adminToken)
        && maxConnections == that.maxConnections
        && maxConnectionsPerSource == that.maxConnectionsPerSource
        && maxBufferedBytes == that.maxBufferedBytes;
  }

  @Override
  public int hashCode() {
    return Objects.hash(listenHost, listenPort, listenBacklog, adminHost, adminPort, instances, transport, splice,
        upstreams, connectTimeout, connectAttempts, idleTimeout, bufferSoftLimit, bufferHardLimit,
        closeFlushTimeout, halfClose, halfClosedTimeout, registryShards, releaseTimeout, watchdogInterval, drainTimeout, echoEnabled,
        echoHost, echoPort, accessLog, adminToken, maxConnections, maxConnectionsPerSource, maxBufferedBytes);
  }

  /** {@link #toJson()} encoded on one line, the admin token masked. */
  @Override
  public String toString() {
    JsonObject json = toJson();
    if (adminToken != null) {
      json.getJsonObject("admin").put("token", "***");
    }
    return json.encode();
  }

  private static <T> void set(String key, T value, Consumer<T> setter) {
    if (value == null) {
      return;
    }
    try {
      setter.accept(value);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      String prefix = key + ": ";
      throw new ConfigException(key, message.startsWith(prefix) ? message.substring(prefix.length()) : message);
    }
  }

  private static <T> T checkNotNull(String key, T value) {
    if (value == null) {
      throw new IllegalArgumentException(key + ": must not be null");
    }
    return value;
  }

  private static int checkRange(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(key + ": " + Values.between(min, max, value));
    }
    return value;
  }

  private static String checkHost(String key, String host) {
    checkNotNull(key, host);
    if (host.isBlank()) {
      throw new IllegalArgumentException(key + ": must not be empty");
    }
    return host;
  }

  private static Duration checkDuration(String key, Duration value, boolean allowZero) {
    checkNotNull(key, value);
    try {
      value.toMillis();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(key + ": is too large, got " + value);
    }
    if (value.getNano() % 1_000_000 != 0) {
      throw new IllegalArgumentException(key + ": must be a whole number of milliseconds, got " + value);
    }
    if (value.isNegative()) {
      throw new IllegalArgumentException(key + ": must not be negative, got " + Values.formatDuration(value));
    }
    if (!allowZero && value.isZero()) {
      throw new IllegalArgumentException(key + ": must be greater than 0, got 0s");
    }
    return value;
  }
}
