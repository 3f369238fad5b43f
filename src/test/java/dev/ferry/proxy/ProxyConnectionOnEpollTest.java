package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.RouteOptions;
import dev.ferry.config.TransportMode;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.LocalCodec;
import dev.ferry.registry.ReleaseOrder;
import dev.ferry.support.Await;
import dev.ferry.support.TestConfig;
import dev.ferry.upstream.UpstreamPool;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link ProxyConnection} on native epoll sockets over loopback, with the test's plain sockets as client and
 * upstream, owned by a route-less listener ({@link RegistryProbe}): what only the kernel can tell. Netty reads a
 * half-closed socket no more, so a reset after a FIN is found by the sweep asking the kernel, and ends the connection
 * with {@code PEER_RESET}, once. The connection runs on its event loop; the test calls it there ({@link #onLoop}).
 */
class ProxyConnectionOnEpollTest {

  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private static final String SOURCE = "127.0.0.1";

  private static Vertx vertx;
  private EventLoopGroup group;
  private ServerSocket upstreamServer;
  private Channel server;
  private RegistryProbe registry;
  private Socket client;
  private Socket upstream;
  private ProxyConnection conn;

  @BeforeAll
  static void startVertx() {
    Epoll.ensureAvailability();
    vertx = Vertx.vertx();
    LocalCodec.registerAll(vertx.eventBus());
  }

  @AfterAll
  static void closeVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void releaseAndClose() throws Exception {
    if (conn != null) {
      onLoop(() -> {
        conn.release(new ReleaseOrder(1, CloseReason.PEER_RESET, Side.CLIENT));
        return null;
      });
      assertThat(registry.awaitPublished()).isEqualTo("ack 0");
      assertThat(onLoop(() -> registry.listener.ledger().buffersHeld())).isZero();
    }
    for (AutoCloseable c : new AutoCloseable[] {client, upstream, upstreamServer, registry}) {
      if (c != null) {
        c.close();
      }
    }
    if (server != null) {
      server.close().sync();
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }

  /** A client connected through a connection, established to the upstream. */
  private void connect() throws Exception {
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    upstreamServer = new ServerSocket(0, 50, LOOPBACK);
    FerryOptions options = new TestConfig().set("listen.host", "127.0.0.1").set("listen.port", 0)
      .set("upstreams", List.of(new UpstreamAddress("127.0.0.1", upstreamServer.getLocalPort()))).options();
    RouteOptions ro = options.routes().get(0);
    FerryMetrics metrics = new FerryMetrics(new SimpleMeterRegistry());
    Route route = ProxyContext.route(ro, new UpstreamPool(ro.name(), ro.pool(), metrics.registry()), false, metrics);
    ProxyContext shared = new ProxyContext(options, metrics, List.of(), TransportMode.EPOLL,
      DescriptorBudget.of(options, -1, 0, false));
    Admission admission = new Admission(shared.limits(), shared::processLimitDetail);
    assertThat(admission.admitProcess()).isNull();
    assertThat(admission.admitRoute(route.limits(), "")).isNull();
    assertThat(admission.admitSource(SOURCE, "")).isNull();
    registry = new RegistryProbe(vertx, shared);
    Bootstrap upstreams = DataChannels.upstreams(new Bootstrap().group(group).channel(EpollSocketChannel.class), ro);
    ListenerVerticle.Served served = new ListenerVerticle.Served(route, upstreams, false, "");
    Listening address = new Listening(List.of(served));
    CompletableFuture<ProxyConnection> accepted = new CompletableFuture<>();
    server = DataChannels.clients(new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class), ro)
      .childHandler(new ChannelInitializer<>() {
        @Override
        protected void initChannel(Channel ch) {
          ConnectionInfo info = new ConnectionInfo(1, ro.name(), SOURCE, System.currentTimeMillis(),
            System.nanoTime());
          ProxyConnection c = new ProxyConnection(1, registry.listener, address, served, ch, info, SOURCE, admission);
          c.start();
          accepted.complete(c);
        }
      })
      .bind(LOOPBACK, 0).sync().channel();
    client = new Socket(LOOPBACK, ((InetSocketAddress) server.localAddress()).getPort());
    client.setSoTimeout(10_000);
    conn = accepted.get(10, TimeUnit.SECONDS);
    upstream = upstreamServer.accept();
    upstream.setSoTimeout(10_000);
    client.getOutputStream().write(new byte[] {1, 2});
    assertThat(upstream.getInputStream().readNBytes(2)).containsExactly(1, 2);
  }

  private <T> T onLoop(Callable<T> task) throws Exception {
    return group.next().submit(task).get(10, TimeUnit.SECONDS);
  }

  /** Runs the sweep now; what it published. */
  private List<String> sweep() throws Exception {
    onLoop(() -> {
      conn.sweep(System.nanoTime());
      return null;
    });
    return registry.published();
  }

  @Test
  void aFailedWriteShutsTheSocketsOutputAndLeavesItsCloseToTheRelease() throws Exception {
    connect();
    Channel up = onLoop(conn::upstreamChannel);
    upstream.setSoLinger(true, 0);
    upstream.close();
    assertThat(registry.awaitPublished()).as("the reset, read").startsWith("close PEER_RESET upstream: ");

    client.getOutputStream().write(3);
    assertThat(registry.awaitPublished()).as("the write toward the reset upstream failed; the socket's error is told")
      .startsWith("close PEER_RESET upstream: write: ").doesNotContain("output shutdown");
    // Netty's AUTO_CLOSE would have closed it here, inside the client's read event (DataChannels says why not).
    assertThat(onLoop(up::isOpen)).as("the failed write closed no socket").isTrue();
    assertThat(registry.published()).as("nothing else: no close event").isEmpty();
    // The release (after each test) closes both sockets and acknowledges with no buffer held.
  }

  @Test
  void aResetAfterTheClientsFinIsFoundByTheSweepAndEndsTheConnectionOnce() throws Exception {
    connect();
    client.shutdownOutput();
    assertThat(upstream.getInputStream().read()).as("the client's FIN passed on").isEqualTo(-1);
    assertThat(onLoop(conn::stage)).isEqualTo(ProxyConnection.Stage.CLIENT_FIN);
    assertThat(sweep()).as("half-closed, not reset").isEmpty();

    client.setSoLinger(true, 0);
    client.close();
    List<String> found = new ArrayList<>();
    Await.until("the sweep finds the reset", () -> {
      try {
        found.addAll(sweep());
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      return !found.isEmpty();
    });
    assertThat(found).containsExactly("close PEER_RESET client: reset after its FIN (seen by the sweep)");
    assertThat(sweep()).as("published once").isEmpty();
  }
}
