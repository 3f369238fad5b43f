package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * Active health checks, as HAProxy's {@code check inter/rise/fall} with {@code tcp-check send}/{@code expect
 * string}: every {@code interval}, a TCP connect to each upstream; {@code send} bytes are written once connected,
 * and the check passes when the bytes received contain {@code expect} (anywhere in the first 16 KiB, as HAProxy's
 * {@code expect string} searches its buffer). Without {@code expect} a check passes once connected and
 * {@code send} written. The whole check (connect, send, reply) is bounded by {@code timeout}.
 *
 * <p>An upstream goes down after {@code fall} consecutive failed checks and up after {@code rise} consecutive
 * passed ones; it starts up, but a first failed check takes it down at once (HAProxy's default
 * {@code init-state up}).
 *
 * <p>Defaults are HAProxy's: {@code inter 2s}, {@code rise 2}, {@code fall 3}; the timeout is the interval, as in
 * HAProxy without {@code timeout check}. A timeout longer than the interval is refused, so at most one check per
 * upstream is ever in flight. Off by default: a check that misfires must be something the operator chose.
 *
 * <p>{@code send} and {@code expect} are text with the escapes of {@link ByteEscapes} ({@code 'PING\r\n'}), at
 * most {@value #MAX_SEND_BYTES} bytes each once decoded, never empty.
 *
 * @param enabled  whether checks run
 * @param interval time between the starts of two checks of one upstream, 10ms..1h
 * @param timeout  bound of one check, 1ms..{@code interval}; null means {@code interval}
 * @param rise     consecutive passed checks that bring a down upstream up, 1..{@value #MAX_RISE_FALL}
 * @param fall     consecutive failed checks that take an up upstream down, 1..{@value #MAX_RISE_FALL}
 * @param send     bytes to write once connected, escaped text, or null
 * @param expect   bytes the reply must contain, escaped text, or null
 */
public record ActiveHealthOptions(boolean enabled, Duration interval, Duration timeout, int rise, int fall,
                                  String send, String expect) {

  public static final boolean DEFAULT_ENABLED = false;
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);
  public static final int DEFAULT_RISE = 2;
  public static final int DEFAULT_FALL = 3;
  public static final int MAX_RISE_FALL = 100;
  public static final Duration MIN_INTERVAL = Duration.ofMillis(10);
  public static final Duration MAX_INTERVAL = Duration.ofHours(1);
  public static final int MAX_SEND_BYTES = 1024;
  public static final int MAX_EXPECT_BYTES = 1024;

  /** Every default: disabled, 2s, timeout 2s, rise 2, fall 3, connect only. */
  public static final ActiveHealthOptions DEFAULTS =
      new ActiveHealthOptions(DEFAULT_ENABLED, DEFAULT_INTERVAL, null, DEFAULT_RISE, DEFAULT_FALL, null, null);

  static final Set<String> KEYS = Set.of("enabled", "interval", "timeout", "rise", "fall", "send", "expect");

  /**
   * The one place of validation.
   *
   * @throws ConfigException with keys relative to this object ({@code rise}, ...)
   */
  public ActiveHealthOptions {
    ConfigPaths.checkDuration("interval", interval, MIN_INTERVAL, MAX_INTERVAL);
    if (timeout == null) {
      timeout = interval;
    }
    if (timeout.compareTo(interval) > 0) {
      throw new ConfigException("timeout", "must not be greater than interval (" + ConfigPaths.shown(interval)
          + "), got " + ConfigPaths.shown(timeout));
    }
    ConfigPaths.checkDuration("timeout", timeout, Duration.ofMillis(1), interval);
    ConfigPaths.checkRange("rise", rise, 1, MAX_RISE_FALL);
    ConfigPaths.checkRange("fall", fall, 1, MAX_RISE_FALL);
    checkBytes("send", send, MAX_SEND_BYTES);
    checkBytes("expect", expect, MAX_EXPECT_BYTES);
  }

  private static void checkBytes(String key, String text, int max) {
    if (text == null) {
      return;
    }
    if (text.isEmpty()) {
      throw new ConfigException(key, "must not be empty (leave it out instead)");
    }
    byte[] bytes;
    try {
      bytes = ByteEscapes.decode(text);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key, e.getMessage() + ", got " + Values.quote(text));
    }
    if (bytes.length > max) {
      throw new ConfigException(key, "must be at most " + max + " bytes, got " + bytes.length);
    }
  }

  /** The options with checks on and everything else unchanged. */
  public ActiveHealthOptions withEnabled(boolean on) {
    return new ActiveHealthOptions(on, interval, timeout, rise, fall, send, expect);
  }

  /** The decoded {@code send} bytes (a fresh array), or null. */
  public byte[] sendBytes() {
    return send == null ? null : ByteEscapes.decode(send);
  }

  /** The decoded {@code expect} bytes (a fresh array), or null. */
  public byte[] expectBytes() {
    return expect == null ? null : ByteEscapes.decode(expect);
  }

  /**
   * Reads the {@code health.active} mapping strictly; absent keys keep their defaults ({@code timeout}: the
   * interval).
   *
   * @param prefix the mapping's own key, e.g. {@code routes[1].health.active}
   * @throws ConfigException naming the full dotted key
   */
  public static ActiveHealthOptions fromJson(JsonObject json, String prefix) {
    Objects.requireNonNull(json, "json");
    ConfigReader.checkKeys(json, prefix, KEYS);
    Boolean enabled = ConfigReader.bool(json.getValue("enabled"), ConfigPaths.path(prefix, "enabled"));
    Duration interval = ConfigReader.duration(json.getValue("interval"), ConfigPaths.path(prefix, "interval"));
    Duration timeout = ConfigReader.duration(json.getValue("timeout"), ConfigPaths.path(prefix, "timeout"));
    Integer rise = ConfigPaths.integer(json.getValue("rise"), ConfigPaths.path(prefix, "rise"), 1, MAX_RISE_FALL);
    Integer fall = ConfigPaths.integer(json.getValue("fall"), ConfigPaths.path(prefix, "fall"), 1, MAX_RISE_FALL);
    String send = ConfigReader.string(json.getValue("send"), ConfigPaths.path(prefix, "send"));
    String expect = ConfigReader.string(json.getValue("expect"), ConfigPaths.path(prefix, "expect"));
    try {
      return new ActiveHealthOptions(enabled == null ? DEFAULT_ENABLED : enabled,
          interval == null ? DEFAULT_INTERVAL : interval, timeout,
          rise == null ? DEFAULT_RISE : rise, fall == null ? DEFAULT_FALL : fall, send, expect);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  /** The YAML shape, timeout explicit; {@link #fromJson} reads it back to an equal value. */
  public JsonObject toJson() {
    return new JsonObject()
        .put("enabled", enabled)
        .put("interval", Values.formatDuration(interval))
        .put("timeout", Values.formatDuration(timeout))
        .put("rise", rise)
        .put("fall", fall)
        .put("send", send)
        .put("expect", expect);
  }
}
