package dev.ferry.proxy;

import dev.ferry.config.ConfigException;
import dev.ferry.config.ProxyProtocolSend;
import dev.ferry.config.RouteOptions;
import dev.ferry.config.UpstreamTlsOptions;
import dev.ferry.upstream.Upstream;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;

import java.io.File;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * What a route's upstream connection does before the client's first byte: the PROXY protocol header
 * ({@code proxy-protocol.send}, Netty's {@link HAProxyMessageEncoder}), then the TLS handshake ({@code upstream-tls}),
 * in that order, as HAProxy's {@code send-proxy} with {@code ssl} does. Both belong to the connect attempt: the attempt
 * succeeds when they are done, and a failed handshake fails the attempt (the pool counts it, the next attempt may go
 * elsewhere); its channel is closed by its {@link SslHandler}, as a failed connect's is by Netty.
 * <p>
 * Immutable and shared by the listeners; {@link #after} runs on the attempt's event loop.
 */
final class UpstreamStart {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(UpstreamStart.class);

  /** A handshake with the upstream failed: the attempt's failure, with the TLS cause. */
  static final class HandshakeFailed extends Exception {
    final TlsErrorCause cause;

    HandshakeFailed(TlsErrorCause cause, Throwable failure) {
      super(TlsEvents.describe(failure), failure);
      this.cause = cause;
    }
  }

  private final ProxyProtocolSend send;
  private final SslContext tls;
  private final UpstreamTlsOptions tlsOptions;
  private final long handshakeTimeoutMillis;

  private UpstreamStart(ProxyProtocolSend send, SslContext tls, UpstreamTlsOptions tlsOptions, long timeoutMillis) {
    this.send = send;
    this.tls = tls;
    this.tlsOptions = tlsOptions;
    this.handshakeTimeoutMillis = timeoutMillis;
  }

  /** The route's upstream start, or null when it has none ({@code keys}: the route's key prefix, for messages). */
  static UpstreamStart of(RouteOptions route, String keys) {
    UpstreamTlsOptions t = route.upstreamTls();
    if (route.proxyProtocol().send() == ProxyProtocolSend.OFF && !t.enabled()) {
      return null;
    }
    SslContext context = null;
    if (t.enabled()) {
      SslProvider provider = TlsMaterial.provider(route.tls().provider(), keys + "tls.provider");
      try {
        context = SslContextBuilder.forClient().sslProvider(provider).protocols("TLSv1.3", "TLSv1.2")
          .trustManager(t.ca() == null ? null : new File(t.ca()))
          .endpointIdentificationAlgorithm(t.verifyHostname() ? "HTTPS" : null)
          .build();
      } catch (Exception e) {
        throw new ConfigException(keys + "upstream-tls.ca", "no TLS context from it: " + e.getMessage());
      }
      log.info("conn=- route {}: TLS to the upstreams, trusting {}, {}, provider {}", route.name(),
        t.ca() == null ? "the JDK's default authorities" : t.ca(), t.verifyHostname()
          ? "verifying " + (t.serverName() == null ? "each upstream's host" : t.serverName()) : "no host name check",
        TlsMaterial.describe(provider));
    }
    // The handshake is part of the connect attempt, bounded as the connect is.
    return new UpstreamStart(route.proxyProtocol().send(), context, t, route.connect().timeout().toMillis());
  }

  /**
   * The attempt {@code connected} followed by the header and the handshake: completes when the upstream may receive
   * the client's bytes, or fails (the TCP connect's failure, or a {@link HandshakeFailed}).
   *
   * @param client      the real client (the PROXY header's, when one was accepted)
   * @param destination the address the client connected to (the header's, when one was accepted)
   */
  ChannelFuture after(ChannelFuture connected, Faults faults, InetSocketAddress client, InetSocketAddress destination,
                      Upstream upstream) {
    Channel ch = connected.channel();
    ChannelPromise ready = ch.newPromise();
    connected.addListener(f -> {
      if (!f.isSuccess()) {
        ready.tryFailure(f.cause());
        return;
      }
      if (send != ProxyProtocolSend.OFF) {
        // In front of everything, so it goes out as it is, before any handshake byte; then the encoder leaves.
        ch.pipeline().addFirst("proxy-header", HAProxyMessageEncoder.INSTANCE);
        ch.writeAndFlush(header(client, destination));
        ch.pipeline().remove(HAProxyMessageEncoder.INSTANCE);
      }
      if (tls == null) {
        ready.trySuccess();
        return;
      }
      String host = tlsOptions.serverName() != null ? tlsOptions.serverName() : upstream.address().host();
      SslHandler engine = tls.newHandler(ch.alloc(), host, upstream.address().port());
      engine.setHandshakeTimeoutMillis(handshakeTimeoutMillis);
      TlsEvents events = new TlsEvents(Side.UPSTREAM, faults, engine, false);
      ch.pipeline().addFirst("tls-events", events);
      ch.pipeline().addFirst("tls", engine);
      engine.handshakeFuture().addListener(hs -> {
        if (hs.isSuccess()) {
          events.established();
          ready.trySuccess();
        } else {
          TlsErrorCause cause = TlsEvents.classify(hs.cause(), false);
          ready.tryFailure(new HandshakeFailed(cause == null ? TlsErrorCause.HANDSHAKE : cause, hs.cause()));
        }
      });
    });
    return ready;
  }

  /** The header for {@code client} to {@code destination}: both IPv4, or both IPv6 (IPv4 mapped), as the spec asks. */
  private HAProxyMessage header(InetSocketAddress client, InetSocketAddress destination) {
    HAProxyProtocolVersion version = send == ProxyProtocolSend.V1 ? HAProxyProtocolVersion.V1
      : HAProxyProtocolVersion.V2;
    InetAddress src = client.getAddress();
    InetAddress dst = destination.getAddress();
    boolean v4 = src instanceof Inet4Address && dst instanceof Inet4Address;
    return new HAProxyMessage(version, HAProxyCommand.PROXY,
      v4 ? HAProxyProxiedProtocol.TCP4 : HAProxyProxiedProtocol.TCP6,
      v4 ? src.getHostAddress() : v6(src), v4 ? dst.getHostAddress() : v6(dst), client.getPort(),
      destination.getPort());
  }

  private static String v6(InetAddress a) {
    if (a instanceof Inet6Address) {
      return a.getHostAddress();
    }
    byte[] v4 = a.getAddress();
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    System.arraycopy(v4, 0, mapped, 12, 4);
    try {
      // Inet6Address.getByAddress keeps the mapped form (InetAddress.getByAddress would turn it back into IPv4).
      return Inet6Address.getByAddress(null, mapped, -1).getHostAddress();
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }
}
