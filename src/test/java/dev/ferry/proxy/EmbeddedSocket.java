package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;

import java.nio.charset.StandardCharsets;

/**
 * A socket for unit tests of the data path: Netty's {@link EmbeddedChannel} (every call runs on the calling thread,
 * time is the test's) made half-closable like Ferry's channels ({@link DuplexChannel}), whose peer can be made slow
 * ({@link #stall}: flushed writes stay queued, so the write queue grows past its water marks as on a socket whose
 * peer does not read; {@link #holdShutdown}) or broken ({@link #failWrites}, {@link #failShutdown}).
 * <p>
 * What the peer received is taken with {@link #received}, which releases the buffers.
 */
class EmbeddedSocket extends EmbeddedChannel implements DuplexChannel {

  private boolean stalled;
  private Throwable writeFailure;
  private Throwable shutdownFailure;
  private boolean holdShutdown;
  private ChannelPromise heldShutdown;
  private boolean outputShutdown;
  private boolean inputShutdown;
  private boolean connected;

  /**
   * Connected and registered, with {@code handlers} in its pipeline and this water mark (low, high) on its write
   * queue.
   */
  EmbeddedSocket(int lowWaterMark, int highWaterMark, ChannelHandler... handlers) {
    super(false, false, handlers);
    connected = true;
    config().setWriteBufferWaterMark(new WriteBufferWaterMark(lowWaterMark, highWaterMark));
    try {
      register();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Not registered and not connected: a channel factory's product, for a bootstrap to register on its event loop. As
   * a real socket, it is active only once {@link #connected}: closed before, it fires no {@code channelInactive}.
   */
  EmbeddedSocket() {
    super(false, false);
  }

  /** Its connect succeeded. */
  void connected() {
    connected = true;
    pipeline().fireChannelActive();
  }

  @Override
  public boolean isActive() {
    return connected && super.isActive();
  }

  /** From now on flushed writes stay queued (the peer reads nothing). */
  void stall() {
    stalled = true;
  }

  /** The peer reads again: the queued writes complete. */
  void resume() {
    stalled = false;
    flush();
  }

  /** Every write from now on fails with {@code cause} (Netty then releases its buffer). */
  void failWrites(Throwable cause) {
    writeFailure = cause;
  }

  /** {@link #shutdownOutput} fails with {@code cause}. */
  void failShutdown(Throwable cause) {
    shutdownFailure = cause;
  }

  /** {@link #shutdownOutput} stays pending until {@link #completeShutdown}. */
  void holdShutdown() {
    holdShutdown = true;
  }

  /** Completes the held {@link #shutdownOutput}. */
  void completeShutdown() {
    outputShutdown = true;
    heldShutdown.setSuccess();
  }

  /** The bytes the peer received so far, as text; their buffers are released. */
  String received() {
    StringBuilder sb = new StringBuilder();
    Object msg;
    while ((msg = readOutbound()) != null) {
      ByteBuf buf = (ByteBuf) msg;
      sb.append(buf.toString(StandardCharsets.US_ASCII));
      buf.release();
    }
    return sb.toString();
  }

  @Override
  protected void doWrite(ChannelOutboundBuffer in) throws Exception {
    if (writeFailure != null) {
      while (in.current() != null) {
        in.remove(writeFailure);
      }
      return;
    }
    if (!stalled) {
      super.doWrite(in);
    }
  }

  @Override
  public boolean isInputShutdown() {
    return inputShutdown;
  }

  @Override
  public ChannelFuture shutdownInput() {
    return shutdownInput(newPromise());
  }

  @Override
  public ChannelFuture shutdownInput(ChannelPromise promise) {
    inputShutdown = true;
    return promise.setSuccess();
  }

  @Override
  public boolean isOutputShutdown() {
    return outputShutdown;
  }

  @Override
  public ChannelFuture shutdownOutput() {
    return shutdownOutput(newPromise());
  }

  @Override
  public ChannelFuture shutdownOutput(ChannelPromise promise) {
    if (shutdownFailure != null) {
      return promise.setFailure(shutdownFailure);
    }
    if (holdShutdown) {
      heldShutdown = promise;
      return promise;
    }
    outputShutdown = true;
    return promise.setSuccess();
  }

  @Override
  public boolean isShutdown() {
    return inputShutdown && outputShutdown;
  }

  @Override
  public ChannelFuture shutdown() {
    return shutdown(newPromise());
  }

  @Override
  public ChannelFuture shutdown(ChannelPromise promise) {
    inputShutdown = true;
    return shutdownOutput(promise);
  }
}
