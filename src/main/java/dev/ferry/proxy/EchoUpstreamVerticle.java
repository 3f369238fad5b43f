package dev.ferry.proxy;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded upstream used when no upstream is configured: echoes every byte back, with back-pressure
 * ({@code pipeTo}), and closes once the client has ended and every byte went back: a client of port 7000 gets its
 * bytes back through the full proxy path out of the box.
 */
public final class EchoUpstreamVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(EchoUpstreamVerticle.class);

  private final String host;
  private final int port;
  private volatile int actualPort = -1;

  public EchoUpstreamVerticle(String host, int port) {
    this.host = host;
    this.port = port;
  }

  @Override
  public Future<?> start() {
    NetServer server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(port).setTcpNoDelay(true));
    server.connectHandler(so -> so.pipeTo(so));
    return server.listen().onSuccess(s -> {
      actualPort = s.actualPort();
      log.info("conn=- embedded echo upstream listening on {}:{}", host, actualPort);
    });
  }

  /** The bound port, -1 before start completed. */
  public int actualPort() {
    return actualPort;
  }
}
