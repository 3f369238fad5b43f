package dev.ferry.proxy;

import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeTimeoutException;

import javax.net.ssl.SSLException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.util.Locale;

/**
 * Sits right behind an {@link SslHandler} (a client's, or an upstream's) and speaks for it to the rest of the
 * pipeline, so that the {@link Relay} behind needs to know nothing of TLS:
 * <ul>
 *   <li>A {@code close_notify} from the peer is its FIN: it goes on as the {@link ChannelInputShutdownEvent} the
 *       relay already handles (the TCP FIN that follows is then a repeat, and stops here), as HAProxy reads
 *       {@code SSL_ERROR_ZERO_RETURN} as the end of the input. The engine's {@code isInboundDone()} decides, not
 *       Netty's {@link SslCloseCompletionEvent}: with the OpenSSL engine (Netty 4.2.10, tcnative 2.0.75) the event
 *       fires at the first read after Ferry's own {@code close_notify}, though the peer sent none (and reads go on),
 *       and the peer's real one later fires nothing. So the event, and every read burst's end, only ask the engine
 *       (a field read) whether the peer's {@code close_notify} arrived ({@code TlsEventsTest} pins this down).</li>
 *   <li>A TLS failure is published once with its cause ({@link Faults#tlsError}); other exceptions go on.</li>
 *   <li>Upstream side, while the attempt is not established ({@link #established}): nothing goes on. A failed
 *       handshake is the attempt's failure, which the connect reports (and may retry), not the connection's.</li>
 * </ul>
 * Threading: the channel's event loop.
 */
final class TlsEvents extends ChannelInboundHandlerAdapter {

  private final Side side;
  private final Faults faults;
  private final SslHandler tls;
  private boolean established;
  private boolean finFired;

  /**
   * @param established false on the upstream side until the attempt succeeded; true on the client side, where the
   *                    preamble reports the handshake
   */
  TlsEvents(Side side, Faults faults, SslHandler tls, boolean established) {
    this.side = side;
    this.faults = faults;
    this.tls = tls;
    this.established = established;
  }

  /** The upstream attempt succeeded: from now on events go on to the relay. */
  void established() {
    established = true;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (!established) {
      return;
    }
    if (evt instanceof SslCloseCompletionEvent) {
      peerClosedTls(ctx);
      return;
    }
    if (evt instanceof ChannelInputShutdownEvent) {
      if (!finFired) {
        finFired = true;
        ctx.fireUserEventTriggered(evt);
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    ctx.fireChannelReadComplete();
    if (established) {
      peerClosedTls(ctx);
    }
  }

  /** The peer's close_notify arrived (the engine's inbound is done): its FIN, once, after every byte before it. */
  private void peerClosedTls(ChannelHandlerContext ctx) {
    if (!finFired && tls.engine().isInboundDone()) {
      finFired = true;
      ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!established) {
      return;
    }
    TlsErrorCause tlsCause = classify(cause, tls.handshakeFuture().isSuccess());
    if (tlsCause == null) {
      ctx.fireExceptionCaught(cause);
    } else {
      faults.tlsError(side, tlsCause, describe(cause));
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (established) {
      ctx.fireChannelInactive();
    }
  }

  /** The TLS cause of a failure, or null when it is none of TLS's (a reset, an I/O error). */
  static TlsErrorCause classify(Throwable failure, boolean handshakeDone) {
    Throwable t = failure instanceof DecoderException && failure.getCause() != null ? failure.getCause() : failure;
    if (t instanceof SslHandshakeTimeoutException) {
      return TlsErrorCause.TIMEOUT;
    }
    if (t instanceof NotSslRecordException) {
      return TlsErrorCause.NOT_TLS;
    }
    if (t instanceof ClosedChannelException && !handshakeDone) {
      return TlsErrorCause.TRUNCATED;
    }
    if (!(t instanceof SSLException)) {
      return null;
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof CertificateException || c instanceof CertPathValidatorException) {
        return TlsErrorCause.CERTIFICATE;
      }
    }
    if (!handshakeDone) {
      return TlsErrorCause.HANDSHAKE;
    }
    String m = t.getMessage();
    return m != null && m.toLowerCase(Locale.ROOT).contains("alert") ? TlsErrorCause.ALERT : TlsErrorCause.RECORD;
  }

  static String describe(Throwable failure) {
    Throwable t = failure instanceof DecoderException && failure.getCause() != null ? failure.getCause() : failure;
    String m = t.getMessage();
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + (m.length() > 200 ? m.substring(0, 200) : m));
  }
}
