package dev.ferry.proxy;

import dev.ferry.registry.Addresses;
import dev.ferry.registry.CloseRequest;
import dev.ferry.registry.ReleaseAck;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link ListenerVerticle} that serves no route (it binds nothing), deployed on Vert.x to own connections a test
 * builds itself, and what it sends to registry shard 0 (the close requests and acknowledgements of connection 1),
 * collected in order by a consumer in the registry's place.
 */
final class RegistryProbe implements AutoCloseable {

  private static final long MARKER = Long.MIN_VALUE;

  final ListenerVerticle listener;
  private final Vertx vertx;
  private final String deployment;
  private final BlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
  private final MessageConsumer<Object> registry;

  RegistryProbe(Vertx vertx, ProxyContext shared) throws Exception {
    this.vertx = vertx;
    registry = vertx.eventBus().localConsumer(Addresses.registry(0), m -> inbox.add(m.body()));
    registry.completion().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    listener = new ListenerVerticle(shared);
    deployment = vertx.deployVerticle(listener).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /**
   * What the listener sent to the registry since the last call, in order: {@code close REASON side: detail} and
   * {@code ack N}. A marker sent after them from this thread bounds the wait, so "nothing" is a certain answer for
   * what this thread caused; what an event loop publishes may come later ({@link #awaitPublished}).
   */
  List<String> published() throws InterruptedException {
    vertx.eventBus().send(Addresses.registry(0), new CloseRequest(MARKER, CloseReason.SHUTDOWN, Side.PROXY, ""));
    List<String> got = new ArrayList<>();
    while (true) {
      Object m = inbox.poll(10, TimeUnit.SECONDS);
      assertThat(m).as("the marker arrives").isNotNull();
      if (m instanceof CloseRequest r && r.id() == MARKER) {
        return got;
      }
      got.add(describe(m));
    }
  }

  /** The next message the listener sends to the registry, waiting for it (bounded). */
  String awaitPublished() throws InterruptedException {
    Object m = inbox.poll(10, TimeUnit.SECONDS);
    assertThat(m).as("a message to the registry").isNotNull();
    return describe(m);
  }

  private static String describe(Object m) {
    if (m instanceof CloseRequest r) {
      assertThat(r.id()).isEqualTo(1);
      return "close " + r.reason() + " " + r.side().label() + ": " + r.detail();
    }
    if (m instanceof ReleaseAck ack) {
      assertThat(ack.id()).isEqualTo(1);
      return "ack " + ack.buffersStillHeld();
    }
    return String.valueOf(m);
  }

  @Override
  public void close() throws Exception {
    vertx.undeploy(deployment).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    registry.unregister().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }
}
