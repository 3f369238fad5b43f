package dev.ferry.support;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.vertx.core.json.JsonObject;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Collects the JSON lines written to the {@code ferry.access} logger while attached. */
public final class AccessLogCapture extends AppenderBase<ILoggingEvent> implements AutoCloseable {

  private final List<JsonObject> lines = new CopyOnWriteArrayList<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger("ferry.access");

  public AccessLogCapture() {
    setName("test-capture");
    start();
    logger.addAppender(this);
  }

  @Override
  protected void append(ILoggingEvent event) {
    lines.add(new JsonObject(event.getFormattedMessage()));
  }

  public List<JsonObject> lines() {
    return List.copyOf(lines);
  }

  /**
   * The lines of the connections whose TCP peer's address ends with {@code :port}: the client's, or the {@code peer}
   * beside it when a PROXY protocol header named another client.
   */
  public List<JsonObject> forClientPort(int port) {
    return lines.stream().filter(l -> l.getString("peer", l.getString("client", "")).endsWith(":" + port)).toList();
  }

  /** Waits for the one line of the client using local port {@code port}, and asserts there is exactly one. */
  public JsonObject awaitOne(int port) {
    Await.until("an access-log line for client port " + port, () -> !forClientPort(port).isEmpty());
    List<JsonObject> found = forClientPort(port);
    if (found.size() != 1) {
      throw new AssertionError("expected one access-log line for client port " + port + ", got " + found);
    }
    return found.get(0);
  }

  @Override
  public void close() {
    logger.detachAppender(this);
    stop();
  }
}
