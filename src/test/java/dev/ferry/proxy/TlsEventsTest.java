package dev.ferry.proxy;

import dev.ferry.support.Certificates;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the relay behind a TLS engine sees of the peer's end: its FIN once, after its last byte, when its
 * close_notify arrived, also after Ferry sent its own close_notify first (a half-close over TLS). Two engines talk
 * through embedded channels: Ferry's side with each provider, a JDK client on the other.
 */
class TlsEventsTest {

  @TempDir
  Path dir;

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
  void thePeersCloseNotifyIsItsFinEvenAfterOursWasSent(SslProvider provider) throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "x.test");
    SslContext server = SslContextBuilder.forServer(cert.certificate().toFile(), cert.key().toFile())
      .sslProvider(provider).build();
    SslContext client = SslContextBuilder.forClient().sslProvider(SslProvider.JDK)
      .trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null).build();
    List<String> seen = new ArrayList<>();
    SslHandler engine = server.newHandler(ByteBufAllocator.DEFAULT);
    EmbeddedChannel ferrySide = new EmbeddedChannel(engine, new TlsEvents(Side.CLIENT, new NoFaults(), engine, true),
      new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          seen.add("read " + ((ByteBuf) msg).readableBytes());
          ((ByteBuf) msg).release();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
          if (evt == ChannelInputShutdownEvent.INSTANCE) {
            seen.add("FIN");
          }
        }
      });
    EmbeddedChannel peer = new EmbeddedChannel(client.newHandler(ByteBufAllocator.DEFAULT),
      new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          ((ByteBuf) msg).release();
        }
      });
    pump(peer, ferrySide);
    engine.closeOutbound();
    pump(peer, ferrySide);
    for (int i = 0; i < 3; i++) {
      peer.writeAndFlush(Unpooled.wrappedBuffer(new byte[1000]));
      pump(peer, ferrySide);
    }
    assertThat(seen).as("no FIN before the peer's close_notify").containsExactly("read 1000", "read 1000",
      "read 1000");
    peer.pipeline().get(SslHandler.class).closeOutbound();
    pump(peer, ferrySide);
    ferrySide.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
    assertThat(seen).as("the peer's close_notify, then its TCP FIN: one FIN").containsExactly("read 1000",
      "read 1000", "read 1000", "FIN");
    ferrySide.finishAndReleaseAll();
    peer.finishAndReleaseAll();
  }

  /** Exchanges what each side wrote until neither has more. */
  private static void pump(EmbeddedChannel a, EmbeddedChannel b) {
    boolean moved = true;
    for (int i = 0; i < 50 && moved; i++) {
      moved = move(a, b) | move(b, a);
    }
  }

  private static boolean move(EmbeddedChannel from, EmbeddedChannel to) {
    boolean moved = false;
    Object o;
    while ((o = from.readOutbound()) != null) {
      to.writeInbound(o);
      moved = true;
    }
    return moved;
  }

  private static final class NoFaults implements Faults {
    @Override
    public void readFailed(Side side, Throwable cause) {
      throw new AssertionError("read failed: " + cause);
    }

    @Override
    public void writeFailed(Side sink, Throwable cause) {
      throw new AssertionError("write failed: " + cause);
    }

    @Override
    public void overflow(Side sink, long queuedBytes) {
      throw new AssertionError("overflow");
    }

    @Override
    public void closed(Side side) {
      throw new AssertionError("closed");
    }

    @Override
    public void protocolError(ProtocolErrorCause cause, String detail) {
      throw new AssertionError(cause + ": " + detail);
    }

    @Override
    public void tlsError(Side side, TlsErrorCause cause, String detail) {
      throw new AssertionError(cause + ": " + detail);
    }
  }
}
