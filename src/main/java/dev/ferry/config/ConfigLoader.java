package dev.ferry.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Loads {@link FerryOptions}: defaults, overridden by the YAML file, overridden by
 * {@code FERRY_*} environment variables ({@link EnvOverrides}).
 */
public final class ConfigLoader {

  private static final Logger LOG = LoggerFactory.getLogger(ConfigLoader.class);

  /** Bound on {@link #loadBlocking} reading the file and on closing its temporary Vert.x. */
  static final long BLOCKING_TIMEOUT_SECONDS = 30;

  private ConfigLoader() {
  }

  /**
   * Loads the configuration.
   *
   * @param path the YAML file; when {@code null}, {@code FERRY_CONFIG} from {@code env} if set
   *     and not blank; when that is absent too, only defaults and {@code env} apply
   * @return a future that succeeds with validated options or fails with a {@link ConfigException}
   */
  public static Future<FerryOptions> load(Vertx vertx, String path, Map<String, String> env) {
    Objects.requireNonNull(vertx, "vertx");
    Objects.requireNonNull(env, "env");
    String file = path;
    if (file == null) {
      String fromEnv = env.get(EnvOverrides.CONFIG_VARIABLE);
      file = fromEnv == null || fromEnv.isBlank() ? null : fromEnv;
    }
    Future<JsonObject> raw = file == null ? Future.succeededFuture(new JsonObject()) : read(vertx, file);
    String source = file;
    return raw
        .map(json -> {
          FerryOptions options = FerryOptions.fromJson(EnvOverrides.apply(json, env));
          for (RouteOptions route : options.routes()) {
            if (route.idleTimeout().isZero()) {
              LOG.warn("conn=- {}idle-timeout is 0: idle connections are never closed",
                  options.shorthand() ? "" : "routes[" + route.name() + "].");
            }
          }
          LOG.debug("conn=- configuration loaded from {}: {}", source == null ? "defaults" : source, options);
          return options;
        })
        .recover(e -> Future.failedFuture(e instanceof ConfigException
            ? e
            : new ConfigException(ConfigException.FILE_KEY, "cannot load configuration: " + rootMessage(e), e)));
  }

  /**
   * {@link #load} on a temporary Vert.x instance, waiting at most 30 s. Not for event-loop threads.
   *
   * @throws ConfigException for every configuration problem
   */
  public static FerryOptions loadBlocking(String path, Map<String, String> env) {
    Vertx vertx = Vertx.vertx();
    try {
      return load(vertx, path, env).toCompletionStage().toCompletableFuture()
          .get(BLOCKING_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ConfigException) {
        throw (ConfigException) cause;
      }
      throw new ConfigException(ConfigException.FILE_KEY, "cannot load configuration: " + rootMessage(cause), cause);
    } catch (TimeoutException e) {
      throw new ConfigException(ConfigException.FILE_KEY,
          "timed out after " + BLOCKING_TIMEOUT_SECONDS + "s loading " + (path == null ? "configuration" : path), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ConfigException(ConfigException.FILE_KEY, "interrupted while loading configuration", e);
    } finally {
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(BLOCKING_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        LOG.warn("conn=- could not close the Vert.x instance used to load the configuration", e);
      }
    }
  }

  private static Future<JsonObject> read(Vertx vertx, String path) {
    ConfigRetrieverOptions options = new ConfigRetrieverOptions()
        .setScanPeriod(0)
        .setIncludeDefaultStores(false)
        .addStore(new ConfigStoreOptions()
            .setType("file")
            .setFormat("yaml")
            .setConfig(new JsonObject().put("path", path)));
    ConfigRetriever retriever;
    try {
      retriever = ConfigRetriever.create(vertx, options);
    } catch (RuntimeException e) {
      return Future.failedFuture(fileProblem(path, e));
    }
    return retriever.getConfig()
        .recover(e -> e instanceof NullPointerException
            // vertx-config 5.0.8: a YAML document without content (only comments) is read as null
            // and the retriever fails merging it. Such a file configures nothing.
            ? Future.succeededFuture(new JsonObject())
            : Future.failedFuture(fileProblem(path, e)))
        .eventually(() -> {
          retriever.close();
          return Future.succeededFuture();
        });
  }

  private static ConfigException fileProblem(String path, Throwable e) {
    if (e instanceof YAMLException) {
      return new ConfigException(ConfigException.FILE_KEY, path + " is not valid YAML: " + yamlProblem((YAMLException) e), e);
    }
    if (e instanceof DecodeException && e.getCause() instanceof ClassCastException) {
      return new ConfigException(ConfigException.FILE_KEY, path + " must be a mapping at the top level", e);
    }
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String cause;
    if (root instanceof NoSuchFileException) {
      cause = "no such file";
    } else if (root instanceof AccessDeniedException) {
      cause = "permission denied";
    } else {
      cause = rootMessage(e);
    }
    return new ConfigException(ConfigException.FILE_KEY, "cannot read " + path + ": " + cause, e);
  }

  private static String yamlProblem(YAMLException e) {
    if (e instanceof MarkedYAMLException) {
      MarkedYAMLException marked = (MarkedYAMLException) e;
      String problem = marked.getProblem() != null ? marked.getProblem() : marked.getContext();
      Mark mark = marked.getProblemMark() != null ? marked.getProblemMark() : marked.getContextMark();
      if (problem != null) {
        return mark == null ? problem
            : problem + " (line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1) + ")";
      }
    }
    return firstLine(e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage();
    return message == null || message.isBlank() ? root.getClass().getSimpleName() : firstLine(message);
  }

  private static String firstLine(String text) {
    int newline = text.indexOf('\n');
    return (newline < 0 ? text : text.substring(0, newline)).trim();
  }
}
