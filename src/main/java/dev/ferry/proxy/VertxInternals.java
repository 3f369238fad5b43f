package dev.ferry.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoop;
import io.netty.channel.ServerChannel;
import io.netty.resolver.AddressResolverGroup;
import io.vertx.core.Context;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.transport.Transport;

import java.net.InetSocketAddress;

/**
 * Every use of Vert.x internal API ({@code io.vertx.core.internal}, {@code io.vertx.core.spi}) in Ferry, in one place.
 * <p>
 * Why: Ferry's proxied sockets are plain Netty channels on a verticle's own event loop (a Vert.x {@code NetSocket}
 * costs a write-queue chunk, a promise per write and metric lookups per connection: issue #4's benchmark). Building
 * those channels needs what Vert.x keeps internal: the verticle's Netty event loop, the transport's channel factories
 * (epoll or NIO, as Vert.x chose), and Vert.x's name resolver for upstream host names.
 * <p>
 * Checked against Vert.x 5.0.8 (Netty 4.2.10). These interfaces are not covered by Vert.x's compatibility promise:
 * on an upgrade, this class is the one to re-check.
 */
final class VertxInternals {

  private final Vertx vertx;
  private final ContextInternal context;

  VertxInternals(Vertx vertx, Context context) {
    this.vertx = vertx;
    this.context = (ContextInternal) context;
  }

  /** The Netty event loop of the verticle's context: its channels' loop. */
  EventLoop eventLoop() {
    return context.nettyEventLoop();
  }

  /** The transport's factory of client channels (epoll or NIO). */
  ChannelFactory<? extends Channel> channelFactory() {
    return transport().channelFactory(false);
  }

  /** The transport's factory of listening channels (epoll or NIO). */
  ChannelFactory<? extends ServerChannel> serverChannelFactory() {
    return transport().serverChannelFactory(false);
  }

  /** Vert.x's resolver (and its cache), for upstream host names. */
  AddressResolverGroup<InetSocketAddress> resolver() {
    return ((VertxInternal) vertx).nameResolver().nettyAddressResolverGroup();
  }

  /** A promise whose callbacks run on the verticle's context. */
  <T> Promise<T> promise() {
    return context.promise();
  }

  private Transport transport() {
    return ((VertxInternal) vertx).transport();
  }
}
