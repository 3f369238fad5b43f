package dev.ferry.proxy;

import dev.ferry.config.ConfigException;
import dev.ferry.config.TlsOptions;
import dev.ferry.metrics.RouteMeters;
import dev.ferry.vocabulary.Outcome;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Arrays;

/**
 * The server side of one {@code tls.mode: terminate} route: its current {@link SslContext}, and the check that
 * reloads it when the certificate or key file changed (a Kubernetes Secret mounted as a directory changes both at
 * once, by a symbolic-link swap). A new context serves new handshakes; open connections keep the engine they have.
 * A changed pair that does not load (half written, a key of another certificate) is refused, logged once and counted,
 * and the running certificate stays.
 * <p>
 * Threading: {@link #newHandler} runs on any event loop (a volatile read); {@link #reloadIfChanged} on one worker
 * thread at a time (blocking file reads).
 */
public final class ServerTls {

  private static final Logger log = LoggerFactory.getLogger(ServerTls.class);

  private final String route;
  private final TlsOptions options;
  /** The route's key prefix ({@code routes[2].}, or none), for messages. */
  private final String keys;
  private final SslProvider provider;
  private final RouteMeters meters;
  private volatile SslContext context;
  private byte[] loaded;
  private String lastProblem;

  /** Loads the certificate; a {@link ConfigException} names the key when it cannot. */
  ServerTls(String route, TlsOptions options, String keys, RouteMeters meters) {
    this.route = route;
    this.options = options;
    this.keys = keys;
    this.provider = TlsMaterial.provider(options.provider(), keys + "tls.provider");
    this.meters = meters;
    TlsMaterial material = TlsMaterial.read(options.certificate(), options.key(), keys + "tls.certificate",
      keys + "tls.key");
    this.context = build(material);
    this.loaded = material.bytes();
    meters.certificateExpiry(material.leaf().getNotAfter().toInstant().getEpochSecond());
    log.info("conn=- route {}: TLS {} with {} ({}), provider {}", route, String.join(", ", options.protocols()),
      options.certificate(), material.describe(), TlsMaterial.describe(provider));
  }

  SslProvider provider() {
    return provider;
  }

  /** A handler for a new client, server mode, with no handshake timeout of its own (the preamble's timer bounds it). */
  SslHandler newHandler(ByteBufAllocator alloc) {
    SslHandler handler = context.newHandler(alloc);
    handler.setHandshakeTimeoutMillis(0);
    return handler;
  }

  /**
   * Re-reads the files; when they changed and load, new handshakes use them from now on. Blocking: call it on a
   * worker thread. Returns true when a new certificate took effect.
   */
  public synchronized boolean reloadIfChanged() {
    byte[] now;
    try {
      now = TlsMaterial.contents(options.certificate(), options.key());
    } catch (IOException e) {
      refuse("cannot read the files: " + e);
      return false;
    }
    if (Arrays.equals(now, loaded)) {
      return false;
    }
    TlsMaterial material;
    SslContext next;
    try {
      material = TlsMaterial.read(options.certificate(), options.key(), keys + "tls.certificate", keys + "tls.key");
      next = build(material);
    } catch (ConfigException e) {
      refuse(e.getMessage());
      return false;
    }
    context = next;
    loaded = material.bytes();
    lastProblem = null;
    meters.certificateReload(Outcome.SUCCESS);
    meters.certificateExpiry(material.leaf().getNotAfter().toInstant().getEpochSecond());
    log.info("conn=- route {}: certificate reloaded from {} ({}); new handshakes use it, open connections keep "
      + "theirs", route, options.certificate(), material.describe());
    return true;
  }

  private void refuse(String problem) {
    if (!problem.equals(lastProblem)) {
      lastProblem = problem;
      meters.certificateReload(Outcome.FAILURE);
      log.warn("conn=- route {}: changed certificate files refused, the running certificate stays: {}", route,
        problem);
    }
  }

  private SslContext build(TlsMaterial material) {
    SslContext built;
    try {
      built = SslContextBuilder.forServer(material.key(), material.chain())
        .sslProvider(provider)
        .protocols(options.protocols())
        .ciphers(options.ciphers().isEmpty() ? null : options.ciphers())
        .build();
    } catch (Exception e) {
      String key = options.ciphers().isEmpty() ? "tls.certificate" : "tls.ciphers";
      throw new ConfigException(keys + key, "no TLS context from it with provider " + provider + ": " + e.getMessage());
    }
    if (built.cipherSuites().isEmpty()) {
      throw new ConfigException(keys + "tls.ciphers", "none of " + options.ciphers() + " is supported by " + provider);
    }
    return built;
  }
}
