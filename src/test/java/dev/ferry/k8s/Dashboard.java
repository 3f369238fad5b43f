package dev.ferry.k8s;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The Grafana dashboard's PromQL, and the metric names it reads. */
final class Dashboard {

  static final Path FILE = Path.of("k8s/grafana/ferry-dashboard.json");

  private static final Pattern IDENT = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "and", "or", "unless", "le", "inf", "nan");

  private Dashboard() {
  }

  /** Every target expression of every panel (rows included), in order. */
  static List<String> expressions() {
    JsonObject dashboard = new JsonObject(Manifests.read(FILE));
    List<String> out = new ArrayList<>();
    collect(dashboard.getJsonArray("panels"), out);
    return out;
  }

  private static void collect(JsonArray panels, List<String> out) {
    for (Object p : panels) {
      JsonObject panel = (JsonObject) p;
      if (panel.getJsonArray("panels") != null) {
        collect(panel.getJsonArray("panels"), out);
      }
      JsonArray targets = panel.getJsonArray("targets");
      if (targets != null) {
        targets.forEach(t -> out.add(((JsonObject) t).getString("expr")));
      }
    }
  }

  /** The expression with Grafana's variables replaced, as Prometheus would receive it. */
  static String forPrometheus(String expr) {
    return expr.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$job", ".+")
      .replace("$route", ".+");
  }

  /**
   * Metric names in a PromQL expression: identifiers outside label matchers, strings, ranges and grouping
   * clauses that are neither functions (followed by a parenthesis) nor keywords.
   */
  static Set<String> metricNames(String expr) {
    String s = expr.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"")
      .replaceAll("\\{[^}]*}", " ")
      .replaceAll("\\[[^]]*]", " ")
      .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ")
      .replaceAll("\\$[a-zA-Z_]+", " ");
    Set<String> names = new TreeSet<>();
    Matcher m = IDENT.matcher(s);
    while (m.find()) {
      String id = m.group();
      int after = m.end();
      while (after < s.length() && Character.isWhitespace(s.charAt(after))) {
        after++;
      }
      boolean function = after < s.length() && s.charAt(after) == '(';
      boolean number = m.start() > 0 && (Character.isDigit(s.charAt(m.start() - 1)) || s.charAt(m.start() - 1) == '.');
      if (!function && !number && !KEYWORDS.contains(id.toLowerCase())) {
        names.add(id);
      }
    }
    return names;
  }
}
