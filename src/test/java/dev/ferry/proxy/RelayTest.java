package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;

import static dev.ferry.proxy.RelayPair.HARD_LIMIT;
import static dev.ferry.proxy.RelayPair.HIGH;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The two {@link Relay}s of a connection between two {@link EmbeddedSocket}s ({@link RelayPair}): forwarding with one
 * flush per read burst, the bytes that arrive before the upstream, what the release does to reads, back-pressure
 * from a slow sink, the hard limit and the faults a relay reports. Every buffer is pooled and counted by a real
 * {@link BufferLedger}, which must be back at 0 after each test. The in-order end: {@link RelayEndTest}. Splice and
 * the kernel's view of a socket need native epoll: {@link RelayOnEpollTest}.
 */
class RelayTest {

  private final RelayPair pair = new RelayPair();
  private final Relay up = pair.up;
  private final Relay down = pair.down;
  private final EmbeddedSocket client = pair.client;
  private final EmbeddedSocket upstream = pair.upstream;
  private final RelayPair.Events events = pair.events;
  private final BufferLedger ledger = pair.ledger;

  @AfterEach
  void everyBufferIsBackAndNoneIsHeld() {
    pair.assertNothingHeld();
  }

  private ByteBuf bytes(String text) {
    return pair.bytes(text);
  }

  private void connect() {
    pair.connect();
  }

  private static void fin(EmbeddedSocket from) {
    RelayPair.fin(from);
  }

  // ---- forwarding ------------------------------------------------------------------------------------------

  @Test
  void forwardsEveryReadAndFlushesOnceWhenTheReadBurstEnds() {
    connect();
    client.writeOneInbound(bytes("hel"));
    client.writeOneInbound(bytes("lo"));
    assertThat(upstream.received()).as("not flushed within the burst").isEmpty();
    client.flushInbound();
    assertThat(upstream.received()).isEqualTo("hello");
    assertThat(up.bytes()).isEqualTo(5);
    assertThat(up.activity()).as("5 read, 5 taken by the sink").isEqualTo(10);
    assertThat(down.bytes()).isZero();
  }

  @Test
  void forwardsTheOtherDirectionToTheClient() {
    connect();
    upstream.writeInbound(bytes("answer"));
    assertThat(client.received()).isEqualTo("answer");
    assertThat(down.bytes()).isEqualTo(6);
    assertThat(up.bytes()).isZero();
  }

  @Test
  void aForwardedBufferIsNoLongerHeldByTheLedger() {
    connect();
    client.writeOneInbound(bytes("abcd"));
    assertThat(ledger.buffersHeld()).isZero();
    assertThat(ledger.bytesQueued()).as("written, not flushed").isEqualTo(4);
    client.flushInbound();
    assertThat(ledger.bytesQueued()).isZero();
    upstream.received();
  }

  @Test
  void bytesThatArriveBeforeTheUpstreamAreHeldAndForwardedInOrderOnConnect() {
    client.writeInbound(bytes("early "));
    client.writeInbound(bytes("bird"));
    assertThat(up.held()).isEqualTo(2);
    assertThat(ledger.buffersHeld()).isEqualTo(2);
    assertThat(ledger.bytesHeld()).isEqualTo(10);
    client.config().setAutoRead(false);

    connect();
    assertThat(up.held()).isZero();
    assertThat(upstream.received()).as("flushed at once").isEqualTo("early bird");
    assertThat(client.config().isAutoRead()).as("the source reads once connected").isTrue();
  }

  @Test
  void aMessageThatIsNoBufferIsReleasedAndNotForwarded() {
    connect();
    ByteBuf held = bytes("x");
    client.writeInbound(new DefaultByteBufHolder(held));
    assertThat(held.refCnt()).isZero();
    assertThat(upstream.received()).isEmpty();
    assertThat(up.bytes()).isZero();
  }

  // ---- the release -----------------------------------------------------------------------------------------

  @Test
  void afterTheReleaseBeganReadsAreReleasedAndNothingIsForwarded() {
    connect();
    up.release();
    assertThat(up.mode()).isEqualTo(Relay.Mode.RELEASED);
    assertThat(client.config().isAutoRead()).as("the source stops reading").isFalse();
    ByteBuf late = bytes("late");
    client.writeInbound(late);
    assertThat(late.refCnt()).isZero();
    assertThat(upstream.received()).isEmpty();
    assertThat(up.bytes()).isZero();
  }

  @Test
  void theReleaseReleasesTheBytesThatArrivedBeforeTheUpstream() {
    ByteBuf a = bytes("a");
    ByteBuf b = bytes("b");
    client.writeInbound(a, b);
    up.release();
    assertThat(a.refCnt()).isZero();
    assertThat(b.refCnt()).isZero();
    assertThat(up.held()).isZero();
  }

  @Test
  void aReleaseStopsTheSourceEvenWithNothingHeld() {
    connect();
    up.release();
    down.release();
    assertThat(down.mode()).isEqualTo(Relay.Mode.RELEASED);
    assertThat(upstream.config().isAutoRead()).isFalse();
  }

  // ---- back-pressure and the hard limit --------------------------------------------------------------------

  @Test
  void aSinkAboveItsHighWaterMarkStopsTheSourceUntilItFallsBelowTheLowOne() {
    connect();
    upstream.stall();
    client.writeInbound(bytes("x".repeat(HIGH + 1)));
    assertThat(upstream.isWritable()).isFalse();
    assertThat(client.config().isAutoRead()).isFalse();
    upstream.resume();
    assertThat(client.config().isAutoRead()).isTrue();
    assertThat(upstream.received()).hasSize(HIGH + 1);
  }

  @Test
  void aWritabilityChangeBeforeTheRelaysAreLinkedIsIgnored() {
    upstream.pipeline().fireChannelWritabilityChanged();
    assertThat(events.calls).isEmpty();
  }

  @Test
  void moreThanTheHardLimitQueuedForTheSinkIsReportedOnceAfterTheReadBurst() {
    connect();
    upstream.stall();
    client.pipeline().fireChannelRead(bytes("a".repeat(60)));
    client.pipeline().fireChannelRead(bytes("b".repeat(60)));
    assertThat(events.calls).as("not within the burst").isEmpty();
    client.runPendingTasks();
    assertThat(events.calls).containsExactly("overflow upstream 120");
    assertThat(client.config().isAutoRead()).as("an overflowing direction stops").isFalse();
    client.writeInbound(bytes("c".repeat(60)));
    assertThat(events.calls).as("once").containsExactly("overflow upstream 120");
    upstream.resume();
    assertThat(upstream.received()).hasSize(180);
    assertThat(upstream.isWritable()).isTrue();
    assertThat(client.config().isAutoRead()).as("an overflowing direction stays stopped").isFalse();
  }

  @Test
  void exactlyTheHardLimitQueuedIsNoOverflow() {
    connect();
    upstream.stall();
    client.writeInbound(bytes("a".repeat(HARD_LIMIT)));
    assertThat(events.calls).isEmpty();
    upstream.resume();
    upstream.received();
  }

  @Test
  void aFinInTheSameReadBurstIsNoOverflow() {
    connect();
    upstream.stall();
    client.pipeline().fireChannelRead(bytes("a".repeat(HARD_LIMIT + 1)));
    fin(client);
    client.runPendingTasks();
    assertThat(events.calls).containsExactly("fin client");
    upstream.resume();
    upstream.received();
  }

  @Test
  void anOverflowFoundWhenTheReleaseBeganIsNotReported() {
    connect();
    upstream.stall();
    client.pipeline().fireChannelRead(bytes("a".repeat(HARD_LIMIT + 1)));
    up.release();
    client.runPendingTasks();
    assertThat(events.calls).isEmpty();
    upstream.resume();
    upstream.received();
  }

  @Test
  void anOverflowTowardASinkThatClosedMeanwhileIsNotReported() {
    connect();
    upstream.stall();
    client.pipeline().fireChannelRead(bytes("a".repeat(HARD_LIMIT + 1)));
    upstream.close();
    client.runPendingTasks();
    assertThat(events.calls).containsExactly("closed upstream");
  }

  // ---- faults ----------------------------------------------------------------------------------------------

  @Test
  void theFirstWriteFailureIsReportedOnce() {
    connect();
    upstream.failWrites(new IOException("Connection reset by peer"));
    client.writeInbound(bytes("a"), bytes("b"));
    client.writeInbound(bytes("c"));
    assertThat(events.calls).containsExactly("writeFailed upstream Connection reset by peer");
    assertThat(up.activity()).as("failed writes are taken too: their bytes left the queue").isEqualTo(6);
  }

  @Test
  void aWriteToAClosedSinkIsNotAFaultOfItsOwn() {
    connect();
    upstream.failWrites(new ClosedChannelException());
    client.writeInbound(bytes("a"));
    assertThat(events.calls).isEmpty();
  }

  @Test
  void aWriteFailureAfterTheReleaseBeganIsNotReported() {
    connect();
    upstream.stall();
    client.writeInbound(bytes("a"));
    up.release();
    upstream.failWrites(new IOException("Broken pipe"));
    upstream.resume();
    assertThat(events.calls).isEmpty();
  }

  @Test
  void anExceptionInTheSourcesPipelineIsAReadFailureOfItsSide() {
    connect();
    client.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
    upstream.pipeline().fireExceptionCaught(new IOException("No route to host"));
    assertThat(events.calls).containsExactly("readFailed client Connection reset by peer",
      "readFailed upstream No route to host");
  }

  @Test
  void aClosedSourceFlushesWhatItsLastBurstWroteAndReportsTheClose() {
    connect();
    client.pipeline().fireChannelRead(bytes("bye"));
    client.close();
    assertThat(upstream.received()).isEqualTo("bye");
    assertThat(events.calls).containsExactly("closed client");
  }

  @Test
  void aSpliceFailureIsAReadFailureOfTheSourceOrAWriteFailureOfTheSinkReportedOnce() {
    up.spliceFailed(false, new IOException("splice read"));
    up.spliceFailed(true, new IOException("sink gone"));
    up.spliceFailed(true, new IOException("sink gone again"));
    assertThat(events.calls).containsExactly("readFailed client splice read", "writeFailed upstream sink gone");
  }

  @Test
  void splicedChunksCountAsForwardedBytes() {
    up.spliced(Splicer.CHUNK);
    assertThat(up.bytes()).isEqualTo(Splicer.CHUNK);
    assertThat(up.activity()).isEqualTo(Splicer.CHUNK);
  }

  @Test
  void aDirectionThatDoesNotSpliceHasNoSplicedQuietTimeAndNoKernelReset() {
    connect();
    fin(client);
    assertThat(up.splicedQuietMillis()).isEqualTo(-1);
    assertThat(up.resetAfterFin()).as("not an epoll socket: the kernel cannot be asked").isFalse();
  }
}
