# Tests of deploy/prometheus and deploy/grafana with the real tools (Debian's prometheus, which
# has promtool, and prometheus-alertmanager; scripts/setup installs both). Included from
# CMakeLists.txt in the release build only: they start real servers and wait on them.
find_program(MEMVISOR_PROMTOOL promtool)
find_package(Python3 COMPONENTS Interpreter)
if(NOT MEMVISOR_PROMTOOL OR NOT Python3_Interpreter_FOUND)
  message(WARNING "promtool or python3 missing: run scripts/setup; Prometheus tests not added")
  return()
endif()

# The rules parse, and their unit tests (deploy/prometheus/tests/*.yml) fire and do not fire
# each alert as they say.
file(GLOB prometheus_rule_tests CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/deploy/prometheus/tests/*.yml)
add_test(NAME Prometheus.Rules
         COMMAND sh -c "\"$0\" check rules \"$1\" && shift && \"$0\" test rules \"$@\""
                 ${MEMVISOR_PROMTOOL} ${CMAKE_CURRENT_SOURCE_DIR}/deploy/prometheus/memvisor.rules.yml
                 ${prometheus_rule_tests})
set_tests_properties(Prometheus.Rules PROPERTIES LABELS unit TIMEOUT 60)

# The series the rules need, from a real memvisor: limit recycles, crashes, an open circuit,
# thresholds, a killed supervisor; and `promtool check metrics` on the exposition.
add_test(NAME Prometheus.Metrics
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/tests/prometheus/metrics_test.py
                 --memvisor $<TARGET_FILE:memvisor> --source ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(Prometheus.Metrics PROPERTIES LABELS integration TIMEOUT 120)

# The dashboard's queries are valid PromQL and name only series a real memvisor exports (and
# so do the rules); that memvisor's /metrics passes `promtool check metrics`.
add_test(NAME Prometheus.Dashboard
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/tests/prometheus/dashboard_test.py
                 --memvisor $<TARGET_FILE:memvisor> --source ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(Prometheus.Dashboard PROPERTIES LABELS integration TIMEOUT 120)

# memvisor -> Prometheus -> Alertmanager -> a webhook: the leak alert arrives for the leaking
# worker and none names the steady one. About 4 minutes, most of it memvisor's leak detector
# waiting for five 30 s floor buckets and two verdicts: labelled `waits`, scripts/test runs it
# beside the rest of the suite.
add_test(NAME Prometheus.AlertmanagerEndToEnd
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/tests/prometheus/alertmanager_test.py
                 --memvisor $<TARGET_FILE:memvisor> --source ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(Prometheus.AlertmanagerEndToEnd PROPERTIES LABELS "integration;slow;waits"
                     TIMEOUT 600 COST 15000)
