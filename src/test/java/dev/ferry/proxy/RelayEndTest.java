package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.socket.ChannelOutputShutdownEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The in-order end of a {@link Relay}'s direction between two {@link EmbeddedSocket}s ({@link RelayPair}): the
 * source's FIN goes on to the sink only after every byte read before it was written, then the direction ends; a
 * release, a failed flush or a failed shutdown on the way stops it, and only the first FIN counts.
 */
class RelayEndTest {

  private final RelayPair pair = new RelayPair();
  private final Relay up = pair.up;
  private final Relay down = pair.down;
  private final EmbeddedSocket client = pair.client;
  private final EmbeddedSocket upstream = pair.upstream;
  private final RelayPair.Events events = pair.events;

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

  // ---- the in-order end ------------------------------------------------------------------------------------

  @Test
  void aFinIsPassedOnAfterTheLastByteAndEndsTheDirection() {
    connect();
    client.writeOneInbound(bytes("last"));
    fin(client);
    assertThat(upstream.received()).as("flushed before the FIN").isEqualTo("last");
    assertThat(upstream.isOutputShutdown()).isTrue();
    assertThat(up.mode()).isEqualTo(Relay.Mode.ENDED);
    assertThat(events.calls).containsExactly("fin client", "finNeeded upstream", "ended upstream");
    assertThat(down.mode()).as("the other direction goes on").isEqualTo(Relay.Mode.FORWARDING);
  }

  @Test
  void theUpstreamsFinEndsTheDownstreamDirection() {
    connect();
    fin(upstream);
    assertThat(client.isOutputShutdown()).isTrue();
    assertThat(events.calls).containsExactly("fin upstream", "finNeeded downstream", "ended downstream");
  }

  @Test
  void aDirectionThatCompletesTheConnectionEndsWithoutAFinOfItsOwn() {
    connect();
    events.finNeeded = false;
    fin(client);
    assertThat(upstream.isOutputShutdown()).as("the release's close sends it").isFalse();
    assertThat(up.mode()).isEqualTo(Relay.Mode.ENDED);
    assertThat(events.calls).containsExactly("fin client", "finNeeded upstream", "ended upstream");
  }

  @Test
  void aFinBeforeTheUpstreamExistsIsPassedOnOnceItConnects() {
    client.writeInbound(bytes("req"));
    fin(client);
    assertThat(up.mode()).isEqualTo(Relay.Mode.ENDING);
    assertThat(events.calls).containsExactly("fin client");
    connect();
    assertThat(upstream.received()).isEqualTo("req");
    assertThat(upstream.isOutputShutdown()).isTrue();
    assertThat(up.mode()).isEqualTo(Relay.Mode.ENDED);
  }

  @Test
  void theEndWaitsUntilTheSinkHasTakenEveryByte() {
    connect();
    upstream.stall();
    client.writeOneInbound(bytes("slow"));
    fin(client);
    assertThat(up.mode()).isEqualTo(Relay.Mode.ENDING);
    assertThat(upstream.isOutputShutdown()).isFalse();
    assertThat(events.calls).containsExactly("fin client");
    upstream.resume();
    assertThat(upstream.received()).isEqualTo("slow");
    assertThat(upstream.isOutputShutdown()).isTrue();
    assertThat(events.calls).containsExactly("fin client", "finNeeded upstream", "ended upstream");
  }

  @Test
  void aReleaseWhileTheLastBytesAreWrittenSendsNoFin() {
    connect();
    upstream.stall();
    client.writeOneInbound(bytes("slow"));
    fin(client);
    up.release();
    upstream.resume();
    assertThat(upstream.received()).isEqualTo("slow");
    assertThat(upstream.isOutputShutdown()).isFalse();
    assertThat(events.calls).containsExactly("fin client");
  }

  @Test
  void aReleaseWhileTheFinIsSentDoesNotEndTheDirection() {
    connect();
    upstream.holdShutdown();
    fin(client);
    up.release();
    upstream.completeShutdown();
    assertThat(up.mode()).isEqualTo(Relay.Mode.RELEASED);
    assertThat(events.calls).containsExactly("fin client", "finNeeded upstream");
  }

  @Test
  void aFinThatCannotBeSentIsAWriteFailure() {
    connect();
    upstream.failShutdown(new IOException("Transport endpoint is not connected"));
    fin(client);
    assertThat(up.mode()).isEqualTo(Relay.Mode.ENDING);
    assertThat(events.calls).containsExactly("fin client", "finNeeded upstream",
      "writeFailed upstream Transport endpoint is not connected");
  }

  @Test
  void aFailedFlushBeforeTheFinLeavesTheReportToTheWrite() {
    connect();
    upstream.failWrites(new IOException("Broken pipe"));
    client.writeOneInbound(bytes("doomed"));
    fin(client);
    assertThat(upstream.isOutputShutdown()).isFalse();
    assertThat(events.calls).containsExactly("writeFailed upstream Broken pipe", "fin client");
  }

  @Test
  void onlyTheFirstFinCountsAndNoneAfterTheRelease() {
    connect();
    fin(client);
    fin(client);
    down.release();
    fin(upstream);
    assertThat(events.calls).containsExactly("fin client", "finNeeded upstream", "ended upstream");
  }

  @Test
  void otherPipelineEventsAreReleasedAndIgnored() {
    connect();
    ByteBuf counted = bytes("event");
    client.pipeline().fireUserEventTriggered(counted);
    client.pipeline().fireUserEventTriggered(ChannelOutputShutdownEvent.INSTANCE);
    assertThat(counted.refCnt()).isZero();
    assertThat(events.calls).isEmpty();
    assertThat(up.mode()).isEqualTo(Relay.Mode.FORWARDING);
    assertThat(up.forwarding()).isTrue();
  }

  @Test
  void aDirectionIsNoLongerForwardingOnceItsFinArrived() {
    connect();
    upstream.stall();
    fin(client);
    assertThat(up.forwarding()).isFalse();
    assertThat(down.forwarding()).isTrue();
    down.release();
    assertThat(down.forwarding()).isFalse();
    upstream.resume();
  }
}
