package dev.ferry.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;

/**
 * Ferry's FIN toward one side. On a TLS connection it is a {@code close_notify} and then the TCP FIN, as HAProxy
 * sends them ({@code SSL_shutdown}, then {@code shutdown(SHUT_WR)}): the peer's TLS library reads the end of the
 * stream as clean, and TLS 1.3 (RFC 8446, 6.1) lets the peer go on sending the other way.
 * <p>
 * Threading: the channel's event loop.
 */
final class Fins {

  private Fins() {
  }

  /** Shuts {@code ch}'s output down after a {@code close_notify} when it speaks TLS; completes when the FIN went. */
  static ChannelFuture shutdownOutput(Channel ch) {
    SslHandler tls = ch.pipeline().get(SslHandler.class);
    if (tls == null) {
      return ((DuplexChannel) ch).shutdownOutput();
    }
    ChannelPromise done = ch.newPromise();
    tls.closeOutbound().addListener(sent -> {
      if (!sent.isSuccess()) {
        done.tryFailure(sent.cause());
        return;
      }
      ((DuplexChannel) ch).shutdownOutput().addListener(shut -> {
        if (shut.isSuccess()) {
          done.trySuccess();
        } else {
          done.tryFailure(shut.cause());
        }
      });
    });
    return done;
  }
}
