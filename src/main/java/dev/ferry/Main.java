package dev.ferry;

import dev.ferry.config.ConfigException;
import dev.ferry.config.ConfigLoader;
import dev.ferry.config.EnvOverrides;
import dev.ferry.config.FerryOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Command line: {@code java -jar ferry.jar [--config PATH]}. Exit status: 0 after a clean shutdown (SIGTERM or
 * SIGINT), 2 for an invalid command line or configuration (nothing listens then), 1 when start-up fails.
 */
public final class Main {

  private static final Logger log = LoggerFactory.getLogger(Main.class);

  public static final int EXIT_OK = 0;
  public static final int EXIT_START_FAILED = 1;
  public static final int EXIT_BAD_CONFIG = 2;

  private static final String USAGE = "usage: java -jar ferry.jar [--config PATH]  (or env FERRY_CONFIG=PATH)";

  private Main() {
  }

  public static void main(String[] args) {
    AtomicReference<Ferry> running = new AtomicReference<>();
    CountDownLatch stopped = new CountDownLatch(1);
    // Installed before start-up, so a SIGTERM at any moment drains instead of killing the JVM.
    Signal.handle(new Signal("TERM"), sig -> onSignal(sig, running.get(), stopped));
    Signal.handle(new Signal("INT"), sig -> onSignal(sig, running.get(), stopped));
    Ferry[] started = new Ferry[1];
    int code = start(args, System.getenv(), started);
    if (code != EXIT_OK) {
      System.exit(code);
    }
    running.set(started[0]);
  }

  private static void onSignal(Signal sig, Ferry ferry, CountDownLatch stopped) {
    log.info("conn=- received SIG{}", sig.getName());
    if (ferry == null) {
      log.info("conn=- start-up not finished: exiting without drain");
      System.exit(EXIT_OK);
    }
    ferry.shutdown().onComplete(ar -> {
      if (ar.failed()) {
        log.error("conn=- shutdown failed", ar.cause());
      }
      stopped.countDown();
    });
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    System.exit(EXIT_OK);
  }

  /**
   * Parses the command line, loads and validates the configuration and starts Ferry.
   *
   * @param running receives the started instance
   * @return {@link #EXIT_OK} when Ferry runs, otherwise the exit status
   */
  static int start(String[] args, Map<String, String> env, Ferry[] running) {
    String path = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("-h") || a.equals("--help")) {
        log.info("conn=- {}", USAGE);
        return EXIT_BAD_CONFIG;
      } else if (a.equals("--config") && i + 1 < args.length) {
        path = args[++i];
      } else if (a.startsWith("--config=")) {
        path = a.substring("--config=".length());
      } else {
        log.error("conn=- ferry: invalid command line: unexpected argument \"{}\"; {}", a, USAGE);
        return EXIT_BAD_CONFIG;
      }
    }
    FerryOptions options;
    try {
      options = ConfigLoader.loadBlocking(path, env);
    } catch (ConfigException e) {
      log.error("conn=- ferry: invalid configuration: {}", e.getMessage());
      return EXIT_BAD_CONFIG;
    }
    JvmReport.log();
    try {
      // The file Ferry was configured from is watched: a valid change of its upstreams applies without a restart.
      String watched = path != null ? path : env.get(EnvOverrides.CONFIG_VARIABLE);
      running[0] = Ferry.start(options, watched).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
      return EXIT_OK;
    } catch (Exception e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      if (cause instanceof ConfigException bad) {
        // What only loading can tell: a certificate or key that does not parse, a key of another certificate.
        log.error("conn=- ferry: invalid configuration: {}", bad.getMessage());
        return EXIT_BAD_CONFIG;
      }
      log.error("conn=- ferry: start-up failed: {}", cause.toString());
      return EXIT_START_FAILED;
    }
  }
}
