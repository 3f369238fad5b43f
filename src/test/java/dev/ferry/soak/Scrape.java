package dev.ferry.soak;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** One scrape of Ferry's {@code /metrics} (Prometheus text), and small HTTP helpers for its admin port. */
final class Scrape {

  private final Map<String, Double> samples;

  private Scrape(Map<String, Double> samples) {
    this.samples = samples;
  }

  static HttpClient client() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
  }

  /** The soak's Ferry has an admin token (kills need one); every call sends it, as an operator's tooling would. */
  static final String ADMIN_TOKEN = "soak-admin-token";

  static HttpResponse<String> call(HttpClient http, int adminPort, String method, String path) throws IOException {
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
      .header("Authorization", "Bearer " + ADMIN_TOKEN)
      .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build();
    try {
      return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).get(15, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (TimeoutException e) {
      throw new IOException(method + " " + path + " did not answer within 15 s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  static Scrape of(HttpClient http, int adminPort) throws IOException {
    HttpResponse<String> r = call(http, adminPort, "GET", "/metrics");
    if (r.statusCode() != 200) {
      throw new IOException("GET /metrics answered " + r.statusCode());
    }
    return parse(r.body());
  }

  static Scrape parse(String text) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int sp = line.lastIndexOf(' ');
      if (sp <= 0) {
        continue;
      }
      try {
        m.put(line.substring(0, sp).trim(), Double.parseDouble(line.substring(sp + 1).trim()));
      } catch (NumberFormatException ignored) {
        // not a sample line
      }
    }
    return new Scrape(m);
  }

  /** The sample with exactly this name and label set (as printed, e.g. {@code x{kind="buffer"}}), or NaN. */
  double value(String key) {
    return samples.getOrDefault(key, Double.NaN);
  }

  long count(String key) {
    double v = value(key);
    return Double.isNaN(v) ? -1 : (long) v;
  }

  /** All samples of one metric name (any labels). */
  Map<String, Double> family(String name) {
    Map<String, Double> out = new LinkedHashMap<>();
    samples.forEach((k, v) -> {
      if (k.equals(name) || k.startsWith(name + "{")) {
        out.put(k, v);
      }
    });
    return out;
  }

  /** Sum over all label sets of {@code name}, optionally only those whose labels contain {@code labelPart}. */
  double sum(String name, String labelPart) {
    return family(name).entrySet().stream().filter(e -> labelPart == null || e.getKey().contains(labelPart))
      .mapToDouble(Map.Entry::getValue).sum();
  }

  double sum(String name) {
    return sum(name, null);
  }

  /** The lifecycle gauges that must read 0 when the proxy is quiet. */
  String gauges() {
    return "open=" + count("ferry_connections_open") + " closing=" + count("ferry_connections_closing")
      + " buffers_held=" + count("ferry_buffers_held") + " bytes_held=" + count("ferry_buffer_bytes_held")
      + " bytes_queued=" + count("ferry_buffer_bytes_queued");
  }

  boolean quiet() {
    return count("ferry_connections_open") == 0 && count("ferry_connections_closing") == 0
      && count("ferry_buffers_held") == 0 && count("ferry_buffer_bytes_held") == 0
      && count("ferry_buffer_bytes_queued") == 0;
  }

  long heapUsed() {
    return (long) sum("jvm_memory_used_bytes", "area=\"heap\"");
  }

  long directUsed() {
    return (long) sum("jvm_buffer_memory_used_bytes", "id=\"direct\"");
  }
}
