package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * TLS from Ferry to a route's upstreams: {@code upstream-tls: {enabled, ca, server-name, verify-hostname}}. The
 * PROXY protocol header, when sent, goes before the handshake, as HAProxy's {@code send-proxy} with {@code ssl} does.
 *
 * @param enabled        whether Ferry speaks TLS to the upstreams
 * @param ca             PEM bundle of the certificate authorities to trust; null: the JDK's default trust store
 * @param serverName     the name sent as SNI and verified in the upstream's certificate; null: the upstream's host
 *                       (an IP address is then verified, and no SNI is sent)
 * @param verifyHostname whether the certificate must be for that name (the chain is verified either way)
 */
public record UpstreamTlsOptions(boolean enabled, String ca, String serverName, boolean verifyHostname) {

  public static final UpstreamTlsOptions DEFAULTS = new UpstreamTlsOptions(false, null, null, true);
  static final Set<String> KEYS = Set.of("enabled", "ca", "server-name", "verify-hostname");

  public UpstreamTlsOptions {
    if (ca != null) {
      TlsOptions.checkReadable("ca", ca);
    }
    if (serverName != null && !ServerNames.isHostName(serverName)) {
      throw new ConfigException("server-name", "must be a DNS name (letters, digits, '-' and dots), got "
          + Values.quote(serverName));
    }
  }

  static UpstreamTlsOptions fromJson(JsonObject json, String prefix, UpstreamTlsOptions base) {
    Boolean enabled = ConfigReader.bool(json.getValue("enabled"), ConfigPaths.path(prefix, "enabled"));
    String ca = ConfigReader.string(json.getValue("ca"), ConfigPaths.path(prefix, "ca"));
    String name = ConfigReader.string(json.getValue("server-name"), ConfigPaths.path(prefix, "server-name"));
    Boolean verify = ConfigReader.bool(json.getValue("verify-hostname"), ConfigPaths.path(prefix, "verify-hostname"));
    try {
      return new UpstreamTlsOptions(enabled == null ? base.enabled : enabled, ca == null ? base.ca : ca,
          name == null ? base.serverName : name, verify == null ? base.verifyHostname : verify);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("enabled", enabled).put("ca", ca).put("server-name", serverName)
        .put("verify-hostname", verifyHostname);
  }
}
