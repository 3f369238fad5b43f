package dev.ferry.proxy;

import dev.ferry.metrics.FerryMetrics;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.socket.ChannelInputShutdownEvent;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The two {@link Relay}s of one connection between two {@link EmbeddedSocket}s, linked as {@link ProxyConnection}
 * links them, with a recorder ({@link Events}) in place of the connection. Every buffer is pooled, counted by a real
 * {@link BufferLedger} and checked at the end ({@link #assertNothingHeld}).
 */
final class RelayPair {

  static final int HARD_LIMIT = 100;
  static final int LOW = 32;
  static final int HIGH = 64;

  /** What the relays told their connection, in order (recorded from any thread). */
  static final class Events implements RelayEvents {
    final List<String> calls = new CopyOnWriteArrayList<>();
    boolean finNeeded = true;

    @Override
    public void finReceived(Side side) {
      calls.add("fin " + side.label());
    }

    @Override
    public boolean finNeeded(Direction direction) {
      calls.add("finNeeded " + direction.label());
      return finNeeded;
    }

    @Override
    public void ended(Direction direction) {
      calls.add("ended " + direction.label());
    }

    @Override
    public void readFailed(Side side, Throwable cause) {
      calls.add("readFailed " + side.label() + " " + cause.getMessage());
    }

    @Override
    public void writeFailed(Side sink, Throwable cause) {
      calls.add("writeFailed " + sink.label() + " " + cause.getMessage());
    }

    @Override
    public void overflow(Side sink, long queuedBytes) {
      calls.add("overflow " + sink.label() + " " + queuedBytes);
    }

    @Override
    public void closed(Side side) {
      calls.add("closed " + side.label());
    }

    @Override
    public void protocolError(ProtocolErrorCause cause, String detail) {
      calls.add("protocolError " + cause.label() + " " + detail);
    }

    @Override
    public void tlsError(Side side, TlsErrorCause cause, String detail) {
      calls.add("tlsError " + side.label() + " " + cause.label() + " " + detail);
    }
  }

  final FerryMetrics metrics = new FerryMetrics(new SimpleMeterRegistry());
  final BufferLedger ledger = new BufferLedger(metrics, 1 << 20);
  final Events events = new Events();
  final Relay up = new Relay(1, Direction.UPSTREAM, events, ledger, metrics.route("r"), HARD_LIMIT, false);
  final Relay down = new Relay(1, Direction.DOWNSTREAM, events, ledger, metrics.route("r"), HARD_LIMIT, false);
  final EmbeddedSocket client = new EmbeddedSocket(LOW, HIGH, up);
  final EmbeddedSocket upstream = new EmbeddedSocket(LOW, HIGH, down);
  /** Every buffer a test handed to a relay: each must end released, by the relay or by Netty after a write. */
  private final List<ByteBuf> allocated = new ArrayList<>();

  ByteBuf bytes(String text) {
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(Math.max(1, text.length()));
    buf.writeCharSequence(text, StandardCharsets.US_ASCII);
    allocated.add(buf);
    return buf;
  }

  /** The upstream connected: the relays are linked. */
  void connect() {
    up.connect(upstream, down);
    down.connect(client, up);
  }

  /** {@code from}'s peer sent its FIN after its last byte. */
  static void fin(EmbeddedSocket from) {
    from.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
  }

  /** Closes both sockets (Netty releases what they still queue) and checks every buffer is back. */
  void assertNothingHeld() {
    client.finishAndReleaseAll();
    upstream.finishAndReleaseAll();
    assertThat(allocated).as("buffers still referenced").allSatisfy(buf -> assertThat(buf.refCnt()).isZero());
    assertThat(up.held()).isZero();
    assertThat(down.held()).isZero();
    assertThat(ledger.buffersHeld()).isZero();
    assertThat(ledger.bytesHeld()).isZero();
    assertThat(ledger.bytesQueued()).isZero();
  }
}
