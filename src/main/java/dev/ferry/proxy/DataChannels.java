package dev.ferry.proxy;

import dev.ferry.config.RouteOptions;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;

/**
 * The options of the sockets a connection relays between, its client and its upstream, in one place: the listener
 * sets them, and the tests that run a connection on real sockets use the same.
 * <ul>
 *   <li>{@code AUTO_READ} off: a socket reads when its relay lets it (back-pressure, the connect).</li>
 *   <li>{@code ALLOW_HALF_CLOSURE}: a FIN shuts only the input down, and the {@link Relay} passes it on after the
 *       last byte.</li>
 *   <li>{@code WRITE_BUFFER_WATER_MARK}: above the high mark ({@code buffer.soft-limit}) of a socket's write queue,
 *       the source that feeds it stops reading until the queue falls to the low mark, half of it
 *       ({@link Backpressure}).</li>
 *   <li>{@code AUTO_CLOSE} off: a failed write shuts the socket's output down; it never closes the socket. Only the
 *       release closes Ferry's sockets, and it runs as a task, between two epoll batches. A socket closed inside
 *       another socket's event (a relay flushes to its sink while reading its source) frees its descriptor in the
 *       middle of a batch that may still hold the socket's own event, typically the reset that failed the write. A
 *       socket created later in that batch (an accepted client, a dialled upstream) gets the same descriptor, and
 *       Netty 4.2's epoll loop, which finds a registration by descriptor, hands it the stale event. A dialled
 *       upstream that has not connected yet then reports a {@code NotYetConnectedException} and a FIN it never got,
 *       and the kernel socket is left shut for reading. Seen once in the chaos soak (a stream cut short, its
 *       connection ended as reset); {@code DataChannelsOnEpollTest} reproduces it with {@code AUTO_CLOSE} on.</li>
 * </ul>
 * TCP_NODELAY is Netty's default for both transports: setting it again would cost a syscall per socket.
 */
final class DataChannels {

  private DataChannels() {
  }

  /** The upstream sockets' options, on a bootstrap that has its group, channel factory and resolver. */
  static Bootstrap upstreams(Bootstrap b, RouteOptions route) {
    return b.option(ChannelOption.AUTO_READ, false)
      .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
      .option(ChannelOption.AUTO_CLOSE, false)
      .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark(route))
      .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
        (int) Math.min(Integer.MAX_VALUE, route.connect().timeout().toMillis()));
  }

  /** The accepted (client) sockets' options. */
  static ServerBootstrap clients(ServerBootstrap sb, RouteOptions route) {
    return sb.childOption(ChannelOption.AUTO_READ, false)
      .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
      .childOption(ChannelOption.AUTO_CLOSE, false)
      .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark(route));
  }

  private static WriteBufferWaterMark waterMark(RouteOptions route) {
    return new WriteBufferWaterMark(route.buffer().softLimit() / 2, route.buffer().softLimit());
  }
}
