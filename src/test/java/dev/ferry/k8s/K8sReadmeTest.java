package dev.ferry.k8s;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** k8s/README.md states facts the manifests decide: the alerts and their severities. */
class K8sReadmeTest {

  @Test
  void listsExactlyTheAlertsOfThePrometheusRuleWithTheirSeverities() {
    String readme = Manifests.read(Manifests.K8S.resolve("README.md"));
    Map<String, String> documented = new LinkedHashMap<>();
    Matcher m = Pattern.compile("(?m)^- `(Ferry[A-Za-z]+)` \\(([a-z]+)\\):").matcher(readme);
    while (m.find()) {
      documented.put(m.group(1), m.group(2));
    }
    Map<String, String> defined = new LinkedHashMap<>();
    for (Map<?, ?> alert : Rules.alerts(Rules.groups(Manifests.load()))) {
      defined.put((String) alert.get("alert"), (String) ((Map<?, ?>) alert.get("labels")).get("severity"));
    }
    assertThat(documented).isNotEmpty().containsExactlyInAnyOrderEntriesOf(defined);
  }
}
