package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * TLS on a route's client side: {@code tls: {mode, certificate, key, provider, protocols, ciphers,
 * handshake-timeout}}. {@code terminate}: Ferry completes the handshake with the certificate and relays plain bytes
 * (the files are re-read when they change); {@code passthrough}: Ferry only reads the ClientHello's server name to
 * choose among the routes of its address ({@code sni}) and relays every byte untouched.
 *
 * @param mode             off, terminate or passthrough
 * @param certificate      PEM file of the certificate chain, leaf first (terminate only, required there)
 * @param key              PEM file of its private key, PKCS#8 ({@code BEGIN PRIVATE KEY}; terminate only, required)
 * @param provider         auto (OpenSSL where it loads, else the JDK), openssl or jdk
 * @param protocols        TLSv1.3 and/or TLSv1.2, at least one
 * @param ciphers          cipher suites in the provider's names; empty: the provider's defaults for the protocols
 * @param handshakeTimeout the handshake (passthrough: the ClientHello) must complete within this, or the connection
 *                         ends with TLS_ERROR (PROTOCOL_ERROR) and cause timeout; greater than 0
 */
public record TlsOptions(TlsMode mode, String certificate, String key, TlsProvider provider, List<String> protocols,
                         List<String> ciphers, Duration handshakeTimeout) {

  /** Netty's default handshake timeout; nginx stream's {@code ssl_handshake_timeout} is 60 s, HAProxy's 50 s. */
  public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
  public static final List<String> DEFAULT_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
  private static final Set<String> KNOWN_PROTOCOLS = Set.of("TLSv1.3", "TLSv1.2");
  public static final TlsOptions DEFAULTS = new TlsOptions(TlsMode.OFF, null, null, TlsProvider.AUTO,
      DEFAULT_PROTOCOLS, List.of(), DEFAULT_HANDSHAKE_TIMEOUT);
  static final Set<String> KEYS = Set.of("mode", "certificate", "key", "provider", "protocols", "ciphers",
      "handshake-timeout");

  public TlsOptions {
    ConfigPaths.checkNotNull("mode", mode);
    ConfigPaths.checkNotNull("provider", provider);
    protocols = List.copyOf(ConfigPaths.checkNotNull("protocols", protocols));
    ciphers = List.copyOf(ConfigPaths.checkNotNull("ciphers", ciphers));
    ConfigPaths.checkPositive("handshake-timeout", handshakeTimeout);
    if (protocols.isEmpty()) {
      throw new ConfigException("protocols", "must name TLSv1.3, TLSv1.2 or both, got none");
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < protocols.size(); i++) {
      String p = protocols.get(i);
      if (!KNOWN_PROTOCOLS.contains(p)) {
        throw new ConfigException("protocols[" + i + "]", "must be TLSv1.3 or TLSv1.2, got " + Values.quote(p));
      }
      if (!seen.add(p)) {
        throw new ConfigException("protocols[" + i + "]", "listed twice, got " + Values.quote(p));
      }
    }
    for (int i = 0; i < ciphers.size(); i++) {
      if (ciphers.get(i).isBlank()) {
        throw new ConfigException("ciphers[" + i + "]", "must not be empty");
      }
    }
    if (mode == TlsMode.TERMINATE) {
      checkReadable("certificate", certificate);
      checkReadable("key", key);
    } else if (certificate != null || key != null) {
      throw new ConfigException(certificate != null ? "certificate" : "key",
          "is only used with mode terminate, got mode " + mode.configValue());
    }
  }

  /** True when Ferry terminates TLS on the route (its bytes then pass through a TLS engine, never spliced). */
  public boolean terminates() {
    return mode == TlsMode.TERMINATE;
  }

  /** Throws unless {@code file} is set and names a readable regular file. */
  static void checkReadable(String key, String file) {
    if (file == null || file.isBlank()) {
      throw new ConfigException(key, "must be set (a PEM file)");
    }
    Path path = Path.of(file);
    if (!Files.exists(path)) {
      throw new ConfigException(key, "cannot read " + file + ": no such file");
    }
    if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
      throw new ConfigException(key, "cannot read " + file + ": not a readable file");
    }
  }

  static TlsOptions fromJson(JsonObject json, String prefix, TlsOptions base) {
    TlsMode mode = ConfigReader.choice(json.getValue("mode"), ConfigPaths.path(prefix, "mode"), TlsMode::fromConfig);
    String certificate = ConfigReader.string(json.getValue("certificate"), ConfigPaths.path(prefix, "certificate"));
    String key = ConfigReader.string(json.getValue("key"), ConfigPaths.path(prefix, "key"));
    TlsProvider provider = ConfigReader.choice(json.getValue("provider"), ConfigPaths.path(prefix, "provider"),
        TlsProvider::fromConfig);
    List<String> protocols = ConfigReader.strings(json.getValue("protocols"), ConfigPaths.path(prefix, "protocols"));
    List<String> ciphers = ConfigReader.strings(json.getValue("ciphers"), ConfigPaths.path(prefix, "ciphers"));
    Duration timeout = ConfigReader.duration(json.getValue("handshake-timeout"),
        ConfigPaths.path(prefix, "handshake-timeout"));
    try {
      return new TlsOptions(mode == null ? base.mode : mode, certificate == null ? base.certificate : certificate,
          key == null ? base.key : key, provider == null ? base.provider : provider,
          protocols == null ? base.protocols : protocols, ciphers == null ? base.ciphers : ciphers,
          timeout == null ? base.handshakeTimeout : timeout);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("mode", mode.configValue()).put("certificate", certificate).put("key", key)
        .put("provider", provider.configValue()).put("protocols", new JsonArray(protocols))
        .put("ciphers", new JsonArray(ciphers)).put("handshake-timeout", Values.formatDuration(handshakeTimeout));
  }
}
