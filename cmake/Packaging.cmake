# Installed layout and the Debian package (`cpack -G DEB`; scripts/package-test builds and
# checks it). Relative to CMAKE_INSTALL_PREFIX:
#   bin/qatlab, bin/qatlab-cli
#   share/qatlab/zoo/*.json                          engine: resourceDir()
#   share/qatlab/datasets/fashion-mnist-sample/      datasets: sampleDataDir() + sample name
#   share/applications, share/metainfo, share/icons/hicolor/scalable/apps   (GUI only)
#   share/man/man1/qatlab-cli.1.gz, qatlab.1.gz     generated from --help at build time
#   share/doc/qatlab/copyright, changelog.gz, README.fashion-mnist-sample.md
# engine/ and datasets/ compile "${CMAKE_INSTALL_PREFIX}/share/qatlab[/datasets]" in as
# the installed resource paths, so the package must come from a build configured with
# CMAKE_INSTALL_PREFIX=/usr (the release and ci presets); cpack refuses any other prefix.

set(QAT_APP_ID io.github.qatlab.QATLab)
set(QAT_PACKAGE_MAINTAINER "QAT Lab developers <qatlab-devel@example.org>"
    CACHE STRING "Maintainer field of the Debian package")
set(QAT_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
# Literal "share/...", not CMAKE_INSTALL_DATADIR: these must equal the paths the engine
# and dataset loaders compile in (engine/CMakeLists.txt, datasets/CMakeLists.txt).
set(QAT_INSTALL_SHARE_QATLAB share/qatlab)

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# --- programs and data --------------------------------------------------------------------
install(TARGETS qatlab-cli RUNTIME DESTINATION bin)
install(DIRECTORY ${QAT_RESOURCE_DIR}/zoo/ DESTINATION ${QAT_INSTALL_SHARE_QATLAB}/zoo
        FILES_MATCHING PATTERN "*.json")
# The sample's README (provenance, checksums, license) is documentation: /usr/share/doc.
install(DIRECTORY ${QAT_DATASETS_DIR}/fashion-mnist-sample
        DESTINATION ${QAT_INSTALL_SHARE_QATLAB}/datasets PATTERN README.md EXCLUDE)
install(FILES ${QAT_DATASETS_DIR}/fashion-mnist-sample/README.md
        DESTINATION share/doc/qatlab RENAME README.fashion-mnist-sample.md)
install(FILES ${QAT_PACKAGING_DIR}/copyright DESTINATION share/doc/qatlab)

# --- generated files: changelog.gz and man pages --------------------------------------------
# The man pages' date is the newest changelog entry's, so rebuilding gives the same bytes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${QAT_PACKAGING_DIR}/changelog)
file(STRINGS ${QAT_PACKAGING_DIR}/changelog _qat_trailers REGEX "^ -- .*  [A-Z][a-z][a-z], ")
list(GET _qat_trailers 0 _qat_trailer)
if(NOT _qat_trailer MATCHES ", ([0-9]+) ([A-Z][a-z][a-z]) ([0-9][0-9][0-9][0-9]) ")
  message(FATAL_ERROR "packaging/changelog: cannot read the date of the newest entry")
endif()
set(_qat_day ${CMAKE_MATCH_1})
set(_qat_year ${CMAKE_MATCH_3})
set(_qat_months Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)
list(FIND _qat_months ${CMAKE_MATCH_2} _qat_month)
math(EXPR _qat_month "${_qat_month} + 1")
if(_qat_month LESS 10)
  set(_qat_month "0${_qat_month}")
endif()
if(_qat_day MATCHES "^[0-9]$")
  set(_qat_day "0${_qat_day}")
endif()
set(QAT_RELEASE_DATE "${_qat_year}-${_qat_month}-${_qat_day}")

set(QAT_PACKAGING_BINARY_DIR ${PROJECT_BINARY_DIR}/packaging)
set(_qat_changelog_gz ${QAT_PACKAGING_BINARY_DIR}/changelog.gz)
add_custom_command(
  OUTPUT ${_qat_changelog_gz}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${QAT_PACKAGING_BINARY_DIR}
  COMMAND sh -c "gzip -9 -n -c '${QAT_PACKAGING_DIR}/changelog' > '${_qat_changelog_gz}'"
  DEPENDS ${QAT_PACKAGING_DIR}/changelog
  COMMENT "packaging: changelog.gz"
  VERBATIM)
set(_qat_package_files ${_qat_changelog_gz})
install(FILES ${_qat_changelog_gz} DESTINATION share/doc/qatlab)

# qat_add_manpage(<program target> <template> [SUBCOMMANDS] [ENV var=value...])
# runs the built program with --help (and each subcommand with --help) and fills the
# template's @HELP@, @COMMANDS@, @VERSION@, @DATE@ and @DATADIR@ (packaging/manpage.cmake).
function(qat_add_manpage target template)
  cmake_parse_arguments(ARG "SUBCOMMANDS" "" "ENV" ${ARGN})
  set(out ${QAT_PACKAGING_BINARY_DIR}/man/${target}.1)
  add_custom_command(
    OUTPUT ${out}.gz
    COMMAND ${CMAKE_COMMAND} -E env ${ARG_ENV}
            ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${target}> -DNAME=${target}
            -DTEMPLATE=${template} -DOUTPUT=${out} -DVERSION=${PROJECT_VERSION}
            -DDATE=${QAT_RELEASE_DATE} -DSUBCOMMANDS=$<BOOL:${ARG_SUBCOMMANDS}>
            -DDATADIR=${CMAKE_INSTALL_PREFIX}/${QAT_INSTALL_SHARE_QATLAB}
            -P ${QAT_PACKAGING_DIR}/manpage.cmake
    DEPENDS ${target} ${template} ${QAT_PACKAGING_DIR}/manpage.cmake
    COMMENT "packaging: man page ${target}.1 from --help"
    VERBATIM)
  set(_qat_package_files ${_qat_package_files} ${out}.gz PARENT_SCOPE)
  install(FILES ${out}.gz DESTINATION share/man/man1)
endfunction()

# A sanitizer build runs nothing it builds at build time (LeakSanitizer would turn a leak
# into a build failure far from the tests); it is never packaged either.
if(NOT QAT_SANITIZE)
  qat_add_manpage(qatlab-cli ${QAT_PACKAGING_DIR}/qatlab-cli.1.in SUBCOMMANDS)
endif()

# --- GUI: program, desktop entry, AppStream metadata, icon, man page -------------------------
if(TARGET qatlab)
  install(TARGETS qatlab RUNTIME DESTINATION bin)
  install(FILES ${QAT_PACKAGING_DIR}/${QAT_APP_ID}.desktop DESTINATION share/applications)
  install(FILES ${QAT_PACKAGING_DIR}/${QAT_APP_ID}.metainfo.xml DESTINATION share/metainfo)
  # The UI's own icon (resources/icons/qatlab.svg), named after the application id.
  install(FILES ${QAT_RESOURCE_DIR}/icons/qatlab.svg
          DESTINATION share/icons/hicolor/scalable/apps RENAME ${QAT_APP_ID}.svg)
  if(NOT QAT_SANITIZE)
    qat_add_manpage(qatlab ${QAT_PACKAGING_DIR}/qatlab.1.in ENV QT_QPA_PLATFORM=offscreen)
  endif()
endif()

add_custom_target(qat_package_files ALL DEPENDS ${_qat_package_files})

# --- CPack: Debian package ---------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME qatlab)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "QAT Lab developers")
set(CPACK_PACKAGE_CONTACT "${QAT_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "neural-network quantization workbench (PTQ and QAT)")
set(CPACK_PACKAGE_DESCRIPTION
    "QAT Lab trains a neural network in float, quantizes it after training
(PTQ) and with quantization-aware training (QAT), and compares the runs:
accuracy of the float, fake-quant and integer models, model size and
latency. A layer inspector shows the quantization grid, scales and zero
points of every layer, and models export as full-integer TensorFlow Lite
files.

This package holds the Qt GUI (qatlab), the command-line tool
(qatlab-cli), the built-in model zoo and a small Fashion-MNIST sample;
the full data set is in dataset-fashion-mnist.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS ${CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${QAT_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Shared-library dependencies come from dpkg-shlibdeps on the installed binaries: Qt 6
# (Widgets, PrintSupport, Sql), libqcustomplot2.1-qt6, libdnnl2, libgomp1, zlib1g,
# libpng16-16 and libjpeg62-turbo (image-folder datasets), libc6, libstdc++6 (and
# ONNX/protobuf when the importer links them); Qt PrintSupport comes with
# libqcustomplot2.1-qt6, which is what uses it. Added by hand: what is loaded as a plugin,
# not linked — the Qt SQLite driver for the runs database.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(TARGET qatlab)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libqt6sql6-sqlite")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dataset-fashion-mnist")

# Checks run by cpack on the staged tree before it builds the package.
set(QAT_PACKAGE_HAS_GUI $<TARGET_EXISTS:qatlab>)
file(GENERATE OUTPUT ${QAT_PACKAGING_BINARY_DIR}/prebuild-check.cmake CONTENT
"set(QAT_INSTALL_PREFIX \"${CMAKE_INSTALL_PREFIX}\")
set(QAT_VERSION \"${PROJECT_VERSION}\")
set(QAT_PACKAGING_DIR \"${QAT_PACKAGING_DIR}\")
set(QAT_APP_ID \"${QAT_APP_ID}\")
set(QAT_HAS_GUI ${QAT_PACKAGE_HAS_GUI})
set(QAT_SANITIZE \"${QAT_SANITIZE}\")
include(\"${QAT_PACKAGING_DIR}/prebuild-check.cmake\")
")
set(CPACK_PRE_BUILD_SCRIPTS ${QAT_PACKAGING_BINARY_DIR}/prebuild-check.cmake)

include(CPack)
