# The Debian package: `cpack -G DEB` in a build dir writes memvisor_VERSION_amd64.deb. What goes
# in it is every install() rule of the project (binary, sampler, agents, worker library, headers,
# pkg-config file) plus what this file adds: the man page, a changelog, the examples, the systemd
# units and the maintainer scripts of cmake/debian/.
# The package installs to /usr; memvisor finds its sampler and agents relative to its own binary
# (bin/../lib, bin/../share/memvisor/agents), so the same files work extracted anywhere.

# Who the package says it is from and where to read more: set these for a real release.
set(MEMVISOR_PACKAGE_MAINTAINER "memvisor maintainers <maintainers@users.noreply.b-seed-f16dfce1.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(MEMVISOR_PACKAGE_HOMEPAGE "" CACHE STRING "Homepage field of the Debian package (none if empty)")

# The man page, gzipped as Debian ships them (-n: no timestamp, so the package is reproducible).
set(memvisor_man_source ${PROJECT_SOURCE_DIR}/docs/man/memvisor.1)
set(memvisor_man_gz ${PROJECT_BINARY_DIR}/memvisor.1.gz)
add_custom_command(OUTPUT ${memvisor_man_gz}
  COMMAND gzip -9nc ${memvisor_man_source} > ${memvisor_man_gz}
  DEPENDS ${memvisor_man_source} VERBATIM)
add_custom_target(memvisor_man ALL DEPENDS ${memvisor_man_gz})
install(FILES ${memvisor_man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# Debian's changelog.gz for a native package: one entry for the version (SOURCE_DATE_EPOCH, when
# set, fixes its date, as for any reproducible build).
string(TIMESTAMP memvisor_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(cmake/debian/changelog.in ${PROJECT_BINARY_DIR}/debian/changelog @ONLY)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/debian/changelog.gz
  COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/debian/changelog > ${PROJECT_BINARY_DIR}/debian/changelog.gz
  DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog VERBATIM)
add_custom_target(memvisor_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog.gz)
install(FILES ${PROJECT_BINARY_DIR}/debian/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
  PATTERN "__pycache__" EXCLUDE)

# Whatever units deploy/systemd/ holds (memvisor.service, memvisor@.service, ...): a glob, so a
# unit added there is packaged without touching this file. lib/systemd/system under the prefix:
# /usr/lib/systemd/system in the package, where systemd looks (on Debian 12 /lib is /usr/lib).
install(DIRECTORY deploy/systemd/ DESTINATION lib/systemd/system
  FILES_MATCHING PATTERN "*.service" PATTERN "*.socket")

set(CPACK_PACKAGE_NAME memvisor)
set(CPACK_PACKAGE_VENDOR "memvisor")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${MEMVISOR_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # Debian ships stripped binaries; debug info would triple the size
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # memvisor_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MEMVISOR_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
if(MEMVISOR_PACKAGE_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${MEMVISOR_PACKAGE_HOMEPAGE}")
endif()
# The first line is the synopsis, the rest the extended description (dpkg's format: each line
# indented by one space, CPack does that).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "memory-aware process supervisor
memvisor runs pools of worker processes in any language, measures each one's
memory (RSS, PSS, USS, swap, cgroup), tells a real leak from normal growth and
recycles a leaking worker gracefully, replacement first, before the kernel's
OOM killer does it brutally. It writes incident bundles (memory series, chart,
mappings, stacks), samples heaps by call site (native code through a preloaded
library, Node.js, Python, the JVM, Ruby and Go in their own terms), and serves
Prometheus metrics and a health endpoint. It runs under systemd (notify,
watchdog) or as a container's PID 1.
.
This package holds the memvisor command, the heap sampler library and runtime
agents, the worker library (libmemvisor-worker) with its headers and
pkg-config file, systemd units, a man page and examples.")
# Run-time libraries from dpkg-shlibdeps (dpkg-dev), so the package lists exactly what the
# binaries link: libfmt9, libmicrohttpd12, libdw1, libunwind8, ...
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The worker library's soname for dependents (the shlibs file).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# Our own maintainer scripts (systemd daemon-reload) and dpkg's ldconfig trigger: CPack would
# otherwise write scripts that call ldconfig, which Debian replaced by the trigger.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/cmake/debian/postinst
    ${PROJECT_SOURCE_DIR}/cmake/debian/postrm ${PROJECT_SOURCE_DIR}/cmake/debian/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# eu-stack writes the incident bundles' stacks.txt (gdb is the fallback); without either the
# bundle says so.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "elfutils")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gdb, prometheus")
include(CPack)
