package dev.ferry.registry;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.MessageCodec;

/**
 * Pass-by-reference codec for messages that never leave the process. Vert.x looks codecs up by exact class,
 * so each message class is registered on its own.
 */
public final class LocalCodec<T> implements MessageCodec<T, T> {

  private final String name;

  private LocalCodec(Class<T> type) {
    this.name = "ferry.local." + type.getSimpleName();
  }

  /** Registers a pass-by-reference codec for every lifecycle message class. */
  public static void registerAll(EventBus bus) {
    register(bus, ConnectionOpened.class);
    register(bus, CloseRequest.class);
    register(bus, ReleaseOrder.class);
    register(bus, ReleaseAck.class);
    register(bus, RouteChosen.class);
  }

  private static <T> void register(EventBus bus, Class<T> type) {
    bus.registerDefaultCodec(type, new LocalCodec<>(type));
  }

  @Override
  public void encodeToWire(Buffer buffer, T t) {
    throw new UnsupportedOperationException(name + " is local only");
  }

  @Override
  public T decodeFromWire(int pos, Buffer buffer) {
    throw new UnsupportedOperationException(name + " is local only");
  }

  @Override
  public T transform(T t) {
    return t;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }
}
