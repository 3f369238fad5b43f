package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Set;

/**
 * The PROXY protocol of a route: {@code proxy-protocol: {accept, send, header-timeout}}. With {@code accept}, the
 * address in the client's header is the client's everywhere (access log, limits, {@code source-hash}); with
 * {@code send}, Ferry writes that address to the upstream before any client byte.
 *
 * @param accept        the header clients must send first: off, v1, v2 or any
 * @param send          the header Ferry sends its upstream first: off, v1 or v2
 * @param headerTimeout the whole header must arrive within this after the accept, or the connection ends with
 *                      PROTOCOL_ERROR (cause timeout); greater than 0
 */
public record ProxyProtocolOptions(ProxyProtocolAccept accept, ProxyProtocolSend send, Duration headerTimeout) {

  /**
   * The header is written by a load balancer right after its connect, so it arrives within a round trip. HAProxy waits
   * its {@code timeout client} (50 s in Debian's packaged configuration), nginx its {@code proxy_protocol_timeout}
   * (30 s), Envoy its {@code listener_filters_timeout} (15 s). Ferry waits 10 s: a connection without its header holds
   * a process connection slot, and nothing legitimate takes long; 10 s still covers a load balancer under stress.
   */
  public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
  public static final ProxyProtocolOptions DEFAULTS = new ProxyProtocolOptions(ProxyProtocolAccept.OFF,
      ProxyProtocolSend.OFF, DEFAULT_HEADER_TIMEOUT);
  static final Set<String> KEYS = Set.of("accept", "send", "header-timeout");

  public ProxyProtocolOptions {
    ConfigPaths.checkNotNull("accept", accept);
    ConfigPaths.checkNotNull("send", send);
    ConfigPaths.checkPositive("header-timeout", headerTimeout);
  }

  /** True when clients must send a header first. */
  public boolean accepts() {
    return accept != ProxyProtocolAccept.OFF;
  }

  static ProxyProtocolOptions fromJson(JsonObject json, String prefix, ProxyProtocolOptions base) {
    ProxyProtocolAccept accept = ConfigReader.choice(json.getValue("accept"), ConfigPaths.path(prefix, "accept"),
        ProxyProtocolAccept::fromConfig);
    ProxyProtocolSend send = ConfigReader.choice(json.getValue("send"), ConfigPaths.path(prefix, "send"),
        ProxyProtocolSend::fromConfig);
    Duration timeout = ConfigReader.duration(json.getValue("header-timeout"),
        ConfigPaths.path(prefix, "header-timeout"));
    try {
      return new ProxyProtocolOptions(accept == null ? base.accept : accept, send == null ? base.send : send,
          timeout == null ? base.headerTimeout : timeout);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("accept", accept.configValue()).put("send", send.configValue())
        .put("header-timeout", Values.formatDuration(headerTimeout));
  }
}
