# Tests of what ships: the man page against the binary's --help, the Debian package built and
# run from a fresh root, and deploy/ (Kubernetes manifests, Dockerfile) checked offline.
if(NOT MEMVISOR_TESTS)
  return()
endif()

# Cheap and independent of the build type: in the sanitizer build too.
add_test(NAME man_page
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/package/man_page_test.py
                 --memvisor $<TARGET_FILE:memvisor> --man ${PROJECT_SOURCE_DIR}/docs/man/memvisor.1)
set_tests_properties(man_page PROPERTIES LABELS unit TIMEOUT 60)

# The package is built from the release tree (cpack strips and runs dpkg-shlibdeps: ~10 s), and
# a sanitizer build's binaries are not what anyone installs.
if(NOT MEMVISOR_SANITIZE)
  add_test(NAME package_deb
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/package/package_test.py
                   --build-dir ${PROJECT_BINARY_DIR} --source-dir ${PROJECT_SOURCE_DIR})
  set_tests_properties(package_deb PROPERTIES LABELS "integration;package" TIMEOUT 300)
endif()

# deploy/kubernetes and deploy/docker offline: kubectl kustomize, the strict schema check of
# deploy/tools (node, installed by scripts/setup), the cross-checks, and the ConfigMap's config run
# as the container runs it (PID 1, uid 10001). Release build only, as the other tests of peers.
if(NOT MEMVISOR_SANITIZE)
  add_test(NAME deploy_kubernetes
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/deploy/kubernetes_test.py
                   --memvisor $<TARGET_FILE:memvisor> --source-dir ${PROJECT_SOURCE_DIR})
  set_tests_properties(deploy_kubernetes PROPERTIES LABELS "integration;deploy" TIMEOUT 180)
endif()
