package dev.ferry.proxy;

import dev.ferry.metrics.FerryMetrics;
import dev.ferry.support.Await;
import dev.ferry.vocabulary.Direction;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.DuplexChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a {@link Relay} does only on native epoll sockets, between two loopback connections whose far ends are the
 * test's plain sockets: a bulk stream switches to splice(2), and after its FIN the bytes the splice left in the
 * socket are read through buffers ({@code drain}) and delivered before the FIN; and a source reset after its FIN
 * shows in the kernel's state of the socket, which is how the sweep finds it ({@code resetAfterFin}).
 * <p>
 * The upstream's receive window and Ferry's send buffer toward it are kept small, so a peer that stops reading stops
 * the splice within a pipe's worth of bytes, and what the client sends next stays in Ferry's receive buffer.
 * Every wait is bounded; the relays run on their event loop, the test asks them there ({@link #onLoop}).
 */
class RelayOnEpollTest {

  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private static final int BURST = 64 * 1024;
  /** Far more than a pipe and the upstream's buffers hold. */
  private static final int TAIL = 4 * 1024 * 1024;
  private static final int STEP = 16 * 1024;
  private static final int SMALL = 4096;

  private final FerryMetrics metrics = new FerryMetrics(new SimpleMeterRegistry());
  private final BufferLedger ledger = new BufferLedger(metrics, 1L << 30);
  private final RelayPair.Events events = new RelayPair.Events();
  private EventLoopGroup group;
  private ServerSocket upstreamServer;
  private Channel server;
  private Socket client;
  private Socket upstream;
  private Channel clientChannel;
  private Channel upstreamChannel;
  private Relay up;
  private Relay down;

  @BeforeAll
  static void nativeEpoll() {
    Epoll.ensureAvailability();
  }

  @AfterEach
  void closeEverythingAndCountTheBuffers() throws Exception {
    for (Socket s : new Socket[] {client, upstream}) {
      if (s != null) {
        s.close();
      }
    }
    if (up != null) {
      onLoop(() -> {
        up.release();
        down.release();
        clientChannel.close();
        upstreamChannel.close();
        return null;
      });
      assertThat(onLoop(() -> up.held() + down.held())).isZero();
      assertThat(onLoop(ledger::buffersHeld)).isZero();
    }
    if (server != null) {
      server.close().sync();
    }
    if (upstreamServer != null) {
      upstreamServer.close();
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }

  /** A client connection, relayed by two relays (one of them splicing when {@code splice}) to an upstream one. */
  private void connect(boolean splice) throws Exception {
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    up = new Relay(1, Direction.UPSTREAM, events, ledger, metrics.route("r"), 1 << 30, splice);
    down = new Relay(1, Direction.DOWNSTREAM, events, ledger, metrics.route("r"), 1 << 30, splice);
    WriteBufferWaterMark waterMark = new WriteBufferWaterMark(BURST / 2, BURST);
    upstreamServer = new ServerSocket();
    upstreamServer.setReceiveBufferSize(SMALL);
    upstreamServer.bind(new InetSocketAddress(LOOPBACK, 0));
    CompletableFuture<Channel> accepted = new CompletableFuture<>();
    server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
      .childOption(ChannelOption.AUTO_READ, false).childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
      .childOption(ChannelOption.SO_RCVBUF, 1024 * 1024).childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
      .childHandler(new ChannelInitializer<>() {
        @Override
        protected void initChannel(Channel ch) {
          ch.pipeline().addLast(up);
          accepted.complete(ch);
        }
      })
      .bind(LOOPBACK, 0).sync().channel();
    client = new Socket(LOOPBACK, ((InetSocketAddress) server.localAddress()).getPort());
    client.setSoTimeout(10_000);
    clientChannel = accepted.get(10, TimeUnit.SECONDS);
    upstreamChannel = new Bootstrap().group(group).channel(EpollSocketChannel.class)
      .option(ChannelOption.AUTO_READ, false).option(ChannelOption.ALLOW_HALF_CLOSURE, true)
      .option(ChannelOption.SO_SNDBUF, SMALL).option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
      .handler(down).connect(upstreamServer.getLocalSocketAddress()).sync().channel();
    upstream = upstreamServer.accept();
    upstream.setSoTimeout(10_000);
    onLoop(() -> {
      up.connect(upstreamChannel, down);
      down.connect(clientChannel, up);
      return null;
    });
  }

  private <T> T onLoop(Callable<T> task) throws Exception {
    return group.next().submit(task).get(10, TimeUnit.SECONDS);
  }

  private long splicesStarted() {
    return metrics.spliceStartedTotal(Direction.UPSTREAM);
  }

  @Test
  void aBulkStreamSplicesAndTheBytesLeftAtItsFinGoThroughBuffersBeforeTheFin() throws Exception {
    connect(true);
    byte[] data = new byte[32 * BURST + TAIL];
    new Random(13).nextBytes(data);
    // Full read bursts in a row make a bulk stream: the upstream takes each burst before the next is sent.
    int sent = 0;
    while (splicesStarted() == 0) {
      assertThat(sent).as("bytes sent before the direction spliced").isLessThan(32 * BURST);
      client.getOutputStream().write(data, sent, BURST);
      sent += BURST;
      assertThat(upstream.getInputStream().readNBytes(BURST)).isEqualTo(Arrays.copyOfRange(data, sent - BURST, sent));
    }
    assertThat(onLoop(up::splicedQuietMillis)).as("a spliced direction's quiet time comes from the kernel")
      .isNotNegative();
    assertThat(onLoop(down::splicedQuietMillis)).as("the other direction does not splice").isEqualTo(-1);
    assertThat(metrics.spliceStartedTotal(Direction.DOWNSTREAM)).isZero();

    // The rest and the FIN. The upstream reads in steps only until Ferry has seen the FIN: each step lets the splice
    // move on, so the FIN finds the pipe full and the socket still holding what the splice has not taken.
    int from = sent;
    CompletableFuture<Void> finished = CompletableFuture.runAsync(() -> {
      try {
        client.getOutputStream().write(data, from, TAIL);
        client.shutdownOutput();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    while (!onLoop(() -> ((DuplexChannel) clientChannel).isInputShutdown())) {
      assertThat(received.size()).as("bytes the upstream read before the FIN arrived").isLessThan(TAIL);
      received.write(upstream.getInputStream().readNBytes(STEP));
    }
    Await.until("the bytes behind the FIN are read through buffers and queued for the upstream",
      () -> ledger.bytesQueued() > 0);
    assertThat(onLoop(() -> ((DuplexChannel) upstreamChannel).isOutputShutdown())).as("the FIN waits for them")
      .isFalse();

    received.write(upstream.getInputStream().readAllBytes());
    assertThat(received.toByteArray()).as("everything after the splice began, then the FIN")
      .isEqualTo(Arrays.copyOfRange(data, from, from + TAIL));
    finished.get(10, TimeUnit.SECONDS);
    Await.until("the direction ended", () -> events.calls.contains("ended upstream"));
    assertThat(events.calls).containsExactly("fin client", "finNeeded upstream", "ended upstream");
    long total = from + TAIL;
    assertThat(onLoop(up::bytes)).as("exact to one splice chunk").isBetween(total - Splicer.CHUNK, total);
    assertThat(ledger.bytesQueued()).isZero();
  }

  @Test
  void aResetAfterTheSourcesFinShowsInTheKernelsStateOfItsSocket() throws Exception {
    connect(false);
    client.getOutputStream().write(new byte[] {1, 2, 3});
    assertThat(upstream.getInputStream().readNBytes(3)).containsExactly(1, 2, 3);
    assertThat(onLoop(up::resetAfterFin)).as("open, no FIN").isFalse();
    client.shutdownOutput();
    Await.until("the client's FIN", () -> events.calls.contains("fin client"));
    assertThat(onLoop(up::resetAfterFin)).as("half-closed, not reset").isFalse();

    client.setSoLinger(true, 0);
    client.close();
    Await.until("the kernel saw the reset", () -> {
      try {
        return onLoop(up::resetAfterFin);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(onLoop(down::resetAfterFin)).as("the upstream sent no FIN").isFalse();
    assertThat(metrics.spliceStartedTotal(Direction.UPSTREAM)).as("a small exchange never splices").isZero();
  }
}
