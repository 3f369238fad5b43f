package dev.ferry.proxy;

import dev.ferry.vocabulary.ProtocolErrorCause;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.AbstractSniHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.util.List;

/**
 * The ClientHello of a TLS passthrough address, read by Netty's {@link AbstractSniHandler} (records split over TCP
 * segments, a ClientHello over several records, the size bound, the server name extension), and the route it chooses
 * ({@link SniTable}). Nothing is consumed: once the route is chosen this handler leaves the pipeline and the bytes it
 * held go on, untouched, to the route's relay. Bytes that are no ClientHello (plain text, another record type) end
 * the connection as malformed rather than going to the default route: a passthrough route carries TLS only.
 * <p>
 * Threading: the channel's event loop.
 */
final class ServerNameReader extends AbstractSniHandler<ListenerVerticle.Served> {

  /**
   * The largest ClientHello accepted: nginx's {@code preread_buffer_size} and HAProxy's {@code tune.bufsize} default
   * (16 KiB); one with post-quantum key shares and GREASE is about 2 KB. Netty's own bound is 16 MiB, and it
   * allocates the announced length up front.
   */
  static final int MAX_CLIENT_HELLO = 16 * 1024;

  private final SniTable<ListenerVerticle.Served> table;
  private final PreambleHandler preamble;
  private boolean helloFound;
  private boolean failed;

  ServerNameReader(SniTable<ListenerVerticle.Served> table, PreambleHandler preamble) {
    // No timeout of Netty's: the preamble's timer bounds the wait, and only publishes.
    super(MAX_CLIENT_HELLO, 0L);
    this.table = table;
    this.preamble = preamble;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    super.decode(ctx, in, out);
  }

  @Override
  protected Future<ListenerVerticle.Served> lookup(ChannelHandlerContext ctx, ByteBuf clientHello) throws Exception {
    // Netty calls this with null when the bytes are no ClientHello at all.
    helloFound = clientHello != null;
    return super.lookup(ctx, clientHello);
  }

  @Override
  protected Future<ListenerVerticle.Served> lookup(ChannelHandlerContext ctx, String hostname) {
    ListenerVerticle.Served route = helloFound ? table.choose(hostname) : null;
    return route != null ? ImmediateEventExecutor.INSTANCE.newSucceededFuture(route)
      : ImmediateEventExecutor.INSTANCE.newFailedFuture(new IllegalStateException("no route"));
  }

  @Override
  protected void onLookupComplete(ChannelHandlerContext ctx, String hostname,
                                  Future<ListenerVerticle.Served> future) {
    if (!future.isSuccess()) {
      failed = true;
      if (!helloFound) {
        preamble.protocolError(ProtocolErrorCause.MALFORMED, "not a TLS ClientHello");
      } else {
        preamble.protocolError(ProtocolErrorCause.NO_ROUTE, hostname == null
          ? "the ClientHello names no server, and the address has no default route"
          : "no route for server name " + hostname);
      }
      return;
    }
    preamble.clientHello(future.getNow(), hostname);
    // Leaving hands the ClientHello's bytes, as they came, to the route's relay, which clientHello installed.
    ctx.pipeline().remove(this);
    preamble.stepDone();
  }
}
