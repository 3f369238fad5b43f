package dev.ferry.proxy;

import dev.ferry.config.RouteOptions;
import dev.ferry.support.TestConfig;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hazard {@link DataChannels} avoids with {@code AUTO_CLOSE} off, played on one epoll loop with Ferry's socket
 * options: in one batch of events, (1) a relay-like handler reads socket X1 and writes to Y1, whose peer reset it, so
 * the write fails; (2) another read dials a fresh upstream; (3) Y1's own event (the reset) comes last. Were Y1 closed
 * at (1), the fresh socket would get its descriptor at (2), and Netty would hand it Y1's event at (3): a
 * {@code NotYetConnectedException} and an input shutdown on a socket that never connected (the chaos soak's cut
 * stream). The order of a batch is the kernel's, so the play is repeated; with {@code AUTO_CLOSE} on, about two plays
 * in three hit it.
 */
class DataChannelsOnEpollTest {

  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private static final int PLAYS = 12;

  private EventLoopGroup group;
  private ServerSocket servers;
  private Bootstrap sockets;

  @BeforeEach
  void start() throws Exception {
    Epoll.ensureAvailability();
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    servers = new ServerSocket(0, 50, LOOPBACK);
    servers.setSoTimeout(10_000);
    RouteOptions route = new TestConfig().options().routes().get(0);
    sockets = DataChannels.upstreams(new Bootstrap().group(group).channel(EpollSocketChannel.class), route);
  }

  @AfterEach
  void stop() throws Exception {
    servers.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
  }

  @Test
  void aSocketWhoseWriteFailedKeepsItsDescriptorSoNoFreshSocketGetsItsStaleEvent() throws Exception {
    for (int play = 0; play < PLAYS; play++) {
      List<String> strayEvents = new CopyOnWriteArrayList<>();
      Channel y1 = connect(new Recorder(null, null));
      Socket y1Peer = servers.accept();
      CompletableFuture<Throwable> writeFailed = new CompletableFuture<>();
      Channel x1 = connect(new Recorder(msg -> y1.writeAndFlush(msg).addListener(f -> writeFailed.complete(f.cause())),
        null));
      Socket x1Peer = servers.accept();
      CompletableFuture<ChannelFuture> dialled = new CompletableFuture<>();
      Channel x3 = connect(new Recorder(msg -> {
        ReferenceCountUtil.release(msg);
        dialled.complete(sockets.clone().handler(new Recorder(null, strayEvents))
          .connect(servers.getLocalSocketAddress()));
      }, null));
      Socket x3Peer = servers.accept();
      group.next().submit(() -> {
        x1.read();
        x3.read();
      }).sync();

      // The loop waits while the three events queue up, so that one epoll_wait returns them together.
      CountDownLatch go = new CountDownLatch(1);
      CountDownLatch waiting = new CountDownLatch(1);
      group.next().execute(() -> {
        waiting.countDown();
        try {
          go.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      assertThat(waiting.await(10, TimeUnit.SECONDS)).isTrue();
      x1Peer.getOutputStream().write(1);
      x3Peer.getOutputStream().write(1);
      y1Peer.setSoLinger(true, 0);
      y1Peer.close();
      go.countDown();

      assertThat(writeFailed.get(10, TimeUnit.SECONDS)).as("play %d: the write toward the reset socket failed", play)
        .isNotNull();
      ChannelFuture fresh = dialled.get(10, TimeUnit.SECONDS);
      assertThat(fresh.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(fresh.isSuccess()).as("play %d: the fresh upstream connected", play).isTrue();
      Socket freshPeer = servers.accept();
      assertThat(strayEvents).as("play %d: events the fresh upstream got before it connected", play).isEmpty();
      assertThat(group.next().submit(y1::isOpen).get(10, TimeUnit.SECONDS))
        .as("play %d: the failed write closed no socket", play).isTrue();

      for (Channel c : new Channel[] {y1, x1, x3, fresh.channel()}) {
        c.close().sync();
      }
      for (Socket s : new Socket[] {y1Peer, x1Peer, x3Peer, freshPeer}) {
        s.close();
      }
    }
  }

  private Channel connect(Recorder handler) throws InterruptedException {
    return sockets.clone().handler(handler).connect(servers.getLocalSocketAddress()).sync().channel();
  }

  /** Passes reads on; records in {@code stray} (when given) what a socket that has not connected yet should never see. */
  private static final class Recorder extends ChannelInboundHandlerAdapter {
    private final Consumer<Object> onRead;
    private final List<String> stray;

    Recorder(Consumer<Object> onRead, List<String> stray) {
      this.onRead = onRead;
      this.stray = stray;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (onRead != null) {
        onRead.accept(msg);
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (stray != null && !ctx.channel().isActive()) {
        stray.add(evt.getClass().getSimpleName() + " before it connected");
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (stray != null && !ctx.channel().isActive()) {
        stray.add(cause + " before it connected");
      }
    }
  }
}
