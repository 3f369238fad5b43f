package dev.ferry.proxy;

import dev.ferry.config.ProxyProtocolAccept;
import dev.ferry.config.RouteOptions;
import dev.ferry.config.TlsMode;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolException;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * What must come before a client's own bytes, in order, each step bounded by its timer: a PROXY protocol header
 * (Netty's {@link HAProxyMessageDecoder} reads it), then either a ClientHello whose server name chooses the route
 * ({@link ServerNameReader}) or a TLS handshake ({@link SslHandler}, followed by {@link TlsEvents}). This handler sits
 * behind those decoders and in front of the client's {@link Relay}:
 * <pre>
 *   [PROXY header decoder] [ClientHello reader | TLS engine, TLS events] [preamble] [relay]
 * </pre>
 * It reports each result to its connection ({@link PreambleEvents}), and every failure as a
 * {@code PROTOCOL_ERROR} or {@code TLS_ERROR} with its cause: it only publishes, as every fault site does (Netty's
 * decoders close the channel themselves on a malformed header or a failed handshake; the release point closes it for
 * every other end). Decoders that are done leave the pipeline; so does this handler, unless TLS stays.
 * <p>
 * Reads: the client channel does not read on its own ({@code autoRead} off until the upstream connects); while a step
 * waits, every read burst is followed by another read request.
 * <p>
 * Threading: the channel's event loop.
 */
final class PreambleHandler extends ChannelInboundHandlerAdapter {

  enum Step { PROXY_HEADER, CLIENT_HELLO, HANDSHAKE, DONE }

  /**
   * The TLVs a PROXY v2 header may carry beyond its addresses: the decoder's bound is then 16 + 216 + 4096 bytes
   * (v1: 108). Its default, 64 KiB, would let every connection that waits for its header hold that much; the load
   * balancers' own TLVs (an AWS VPC endpoint id, a GCP PSC connection id, an Azure link id) are tens of bytes.
   */
  static final int MAX_TLV_BYTES = 4096;

  private final PreambleEvents conn;
  private final ProxyProtocolAccept accept;
  private final long headerTimeoutNanos;
  private final long tlsTimeoutNanos;
  private final TlsMode tls;
  private ChannelHandlerContext ctx;
  private Step step;
  private ScheduledFuture<?> timer;
  /** A failure was reported: nothing more is, and nothing goes on to the relay. */
  private boolean failed;

  private PreambleHandler(PreambleEvents conn, RouteOptions route) {
    this.conn = conn;
    this.accept = route.proxyProtocol().accept();
    this.headerTimeoutNanos = route.proxyProtocol().headerTimeout().toNanos();
    this.tlsTimeoutNanos = route.tls().handshakeTimeout().toNanos();
    this.tls = route.tls().mode();
  }

  /**
   * Installs the preamble of {@code served}'s route (for a shared address: its lead, which the ClientHello may replace)
   * in front of whatever {@code client}'s pipeline holds, or returns null when the route has none.
   */
  static PreambleHandler install(PreambleEvents conn, Channel client, Listening address,
                                 ListenerVerticle.Served served) {
    RouteOptions route = served.route.options();
    if (!route.hasPreamble()) {
      return null;
    }
    PreambleHandler preamble = new PreambleHandler(conn, route);
    ChannelPipeline p = client.pipeline();
    if (route.proxyProtocol().accepts()) {
      p.addLast("proxy-header", new HAProxyMessageDecoder(MAX_TLV_BYTES));
    }
    if (route.tls().mode() == TlsMode.PASSTHROUGH) {
      p.addLast("client-hello", new ServerNameReader(address.names, preamble));
    } else if (route.tls().terminates()) {
      SslHandler engine = served.route.serverTls().newHandler(client.alloc());
      p.addLast("tls", engine);
      p.addLast("tls-events", new TlsEvents(Side.CLIENT, conn, engine, true));
    }
    p.addLast("preamble", preamble);
    return preamble;
  }

  /** Starts the first step: its timer, and the first read. */
  void start() {
    step = accept != ProxyProtocolAccept.OFF ? Step.PROXY_HEADER : afterHeader();
    arm();
    ctx.read();
  }

  /** True while a step waits. */
  boolean pending() {
    return !failed && step != Step.DONE;
  }

  Step step() {
    return step;
  }

  /** The release began: no timer fires any more. */
  void release() {
    failed = true;
    cancelTimer();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    cancelTimer();
  }

  // ---- the steps ------------------------------------------------------------------------------------------------

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HAProxyMessage header) {
      try {
        onHeader(header);
      } finally {
        // Decoded by Netty and reference counted (its TLVs): copied out above, released here, once.
        ReferenceCountUtil.release(header);
      }
      return;
    }
    ctx.fireChannelRead(msg);
  }

  private void onHeader(HAProxyMessage header) {
    if (step != Step.PROXY_HEADER || failed) {
      return;
    }
    HAProxyProtocolVersion version = header.protocolVersion();
    if ((accept == ProxyProtocolAccept.V1 && version != HAProxyProtocolVersion.V1)
      || (accept == ProxyProtocolAccept.V2 && version != HAProxyProtocolVersion.V2)) {
      protocolError(ProtocolErrorCause.WRONG_VERSION, "a PROXY protocol " + version + " header, but "
        + "proxy-protocol.accept is " + accept.configValue());
      return;
    }
    HAProxyProxiedProtocol proxied = header.proxiedProtocol();
    if (header.command() == HAProxyCommand.LOCAL || proxied == HAProxyProxiedProtocol.UNKNOWN
      || proxied.addressFamily() == HAProxyProxiedProtocol.AddressFamily.AF_UNIX) {
      // A load balancer's own connection (a health check), or no address to tell: the peer stays the client.
      conn.proxyHeader(null, null);
    } else {
      try {
        conn.proxyHeader(address(header.sourceAddress(), header.sourcePort()),
          address(header.destinationAddress(), header.destinationPort()));
      } catch (UnknownHostException e) {
        protocolError(ProtocolErrorCause.MALFORMED, "PROXY protocol header address: " + e.getMessage());
        return;
      }
    }
    next(afterHeader());
  }

  /** An IP literal as the decoder checked it: no name lookup happens. */
  private static InetSocketAddress address(String ip, int port) throws UnknownHostException {
    return new InetSocketAddress(InetAddress.getByName(ip), port);
  }

  private Step afterHeader() {
    return switch (tls) {
      case PASSTHROUGH -> Step.CLIENT_HELLO;
      case TERMINATE -> Step.HANDSHAKE;
      case OFF -> Step.DONE;
    };
  }

  /** The ClientHello chose {@code route} ({@link ServerNameReader}). */
  void clientHello(ListenerVerticle.Served route, String serverName) {
    if (!failed) {
      conn.routeChosen(route, serverName);
    }
  }

  /** The current step completed (the ClientHello reader's): go on. */
  void stepDone() {
    if (!failed && step == Step.CLIENT_HELLO) {
      next(Step.DONE);
    }
  }

  private void next(Step nextStep) {
    step = nextStep;
    if (nextStep != Step.DONE) {
      arm();
      return;
    }
    cancelTimer();
    // Nothing of the preamble stays: bytes go from the socket (or the TLS engine) straight to the relay.
    ctx.pipeline().remove(this);
    conn.preambleDone();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof SslHandshakeCompletionEvent done) {
      if (step == Step.HANDSHAKE && !failed) {
        if (done.isSuccess()) {
          conn.tlsEstablished(ctx.pipeline().get(SslHandler.class).engine().getSession());
          next(Step.DONE);
        } else {
          TlsErrorCause cause = TlsEvents.classify(done.cause(), false);
          tlsError(cause == null ? TlsErrorCause.HANDSHAKE : cause, TlsEvents.describe(done.cause()));
        }
      }
      return;
    }
    if (evt instanceof SniCompletionEvent) {
      return;
    }
    if (evt instanceof ChannelInputShutdownEvent && (pending() || failed)) {
      if (pending()) {
        truncated("the client sent its FIN");
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (pending()) {
      if (cause instanceof HAProxyProtocolException e) {
        String m = String.valueOf(e.getMessage());
        protocolError(m.contains("exceeds the allowed maximum") ? ProtocolErrorCause.TOO_LARGE
          : ProtocolErrorCause.MALFORMED, "PROXY protocol header: " + m);
        return;
      }
      if (cause instanceof TooLongFrameException e) {
        protocolError(ProtocolErrorCause.TOO_LARGE, "ClientHello: " + e.getMessage());
        return;
      }
      if (cause instanceof NotSslRecordException && step == Step.CLIENT_HELLO) {
        protocolError(ProtocolErrorCause.MALFORMED, "not a TLS ClientHello");
        return;
      }
    } else if (failed) {
      // The decoder that failed repeats itself as an exception; the failure is reported already.
      return;
    }
    ctx.fireExceptionCaught(cause);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancelTimer();
    if (pending()) {
      truncated("the connection closed");
      return;
    }
    if (!failed) {
      ctx.fireChannelInactive();
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (pending()) {
      ctx.read();
    }
    ctx.fireChannelReadComplete();
  }

  private void truncated(String what) {
    String during = step == Step.PROXY_HEADER ? "the PROXY protocol header" : step == Step.CLIENT_HELLO
      ? "the ClientHello" : "the TLS handshake";
    if (step == Step.HANDSHAKE) {
      tlsError(TlsErrorCause.TRUNCATED, what + " during " + during);
    } else {
      protocolError(ProtocolErrorCause.TRUNCATED, what + " before " + during + " was whole");
    }
  }

  // ---- failures: published once -------------------------------------------------------------------------------

  void protocolError(ProtocolErrorCause cause, String detail) {
    if (!failed) {
      failed = true;
      cancelTimer();
      conn.protocolError(cause, detail);
    }
  }

  private void tlsError(TlsErrorCause cause, String detail) {
    if (!failed) {
      failed = true;
      cancelTimer();
      conn.tlsError(Side.CLIENT, cause, detail);
    }
  }

  private void arm() {
    cancelTimer();
    long nanos = step == Step.PROXY_HEADER ? headerTimeoutNanos : tlsTimeoutNanos;
    Step armedFor = step;
    timer = ctx.executor().schedule(() -> timedOut(armedFor, nanos), nanos, TimeUnit.NANOSECONDS);
  }

  private void timedOut(Step armedFor, long nanos) {
    timer = null;
    if (!pending() || step != armedFor) {
      return;
    }
    String detail = "no whole " + (step == Step.PROXY_HEADER ? "PROXY protocol header" : step == Step.CLIENT_HELLO
      ? "ClientHello" : "TLS handshake") + " within " + nanos / 1_000_000 + " ms";
    if (step == Step.HANDSHAKE) {
      tlsError(TlsErrorCause.TIMEOUT, detail);
    } else {
      protocolError(ProtocolErrorCause.TIMEOUT, detail);
    }
  }

  private void cancelTimer() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }
}
