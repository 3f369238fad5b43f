package dev.ferry.k8s;

import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The alerting rules. k8s/prometheusrule.yaml's {@code spec.groups} is their one source; the plain Prometheus rules
 * file (what promtool and a bare Prometheus load) is written from it here, and the committed copy
 * {@link #PLAIN_FILE} is checked to be the same rules.
 */
final class Rules {

  /** The rules as a plain Prometheus rules file, for set-ups without the Prometheus Operator. */
  static final Path PLAIN_FILE = Path.of("src/test/resources/prometheus/ferry-rules.yaml");

  private Rules() {
  }

  static List<?> groups(Manifests k8s) {
    Map<?, ?> spec = k8s.custom("PrometheusRule", "ferry").get("spec");
    return (List<?>) spec.get("groups");
  }

  static List<Map<?, ?>> alerts(List<?> groups) {
    List<Map<?, ?>> alerts = new ArrayList<>();
    for (Object g : groups) {
      for (Object r : (List<?>) ((Map<?, ?>) g).get("rules")) {
        alerts.add((Map<?, ?>) r);
      }
    }
    return alerts;
  }

  /** Writes {@code {groups: ...}} from the PrometheusRule to {@code file}; returns it. */
  static Path writePlain(Manifests k8s, Path file) {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("groups", groups(k8s));
    DumperOptions o = new DumperOptions();
    o.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    o.setWidth(120);
    String header = "# Generated from k8s/prometheusrule.yaml (spec.groups); dev.ferry.k8s.PromtoolRulesTest checks it.\n";
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.writeString(file, header + new Yaml(o).dump(doc));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }
}
