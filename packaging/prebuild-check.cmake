# Run by cpack (CPACK_PRE_BUILD_SCRIPTS, through the wrapper cmake/Packaging.cmake
# generates with the QAT_* values) on the staged tree, before the .deb is built: refuses
# to package a tree the installed programs could not use, or with stale version notes.
set(root "${CPACK_TEMPORARY_DIRECTORY}")
set(problems "")
macro(problem)
  string(CONCAT _msg ${ARGN})
  string(APPEND problems "\n  ${_msg}")
endmacro()

if(NOT QAT_INSTALL_PREFIX STREQUAL "/usr")
  problem("the build has CMAKE_INSTALL_PREFIX=${QAT_INSTALL_PREFIX}, but the "
       "engine compiles that path in, so the package needs a build configured with /usr "
       "(presets release and ci)")
endif()
if(QAT_SANITIZE)
  problem("a QAT_SANITIZE build is not for packaging")
endif()

set(expected usr/bin/qatlab-cli usr/share/man/man1/qatlab-cli.1.gz
    usr/share/qatlab/datasets/fashion-mnist-sample/train-images-idx3-ubyte.gz
    usr/share/doc/qatlab/copyright usr/share/doc/qatlab/changelog.gz)
if(QAT_HAS_GUI)
  list(APPEND expected usr/bin/qatlab usr/share/man/man1/qatlab.1.gz
       usr/share/applications/${QAT_APP_ID}.desktop
       usr/share/metainfo/${QAT_APP_ID}.metainfo.xml
       usr/share/icons/hicolor/scalable/apps/${QAT_APP_ID}.svg)
endif()
foreach(f IN LISTS expected)
  if(NOT EXISTS "${root}/${f}")
    problem("/${f} is not installed")
  endif()
endforeach()
file(GLOB zoo "${root}/usr/share/qatlab/zoo/*.json")
if(zoo STREQUAL "")
  problem("no zoo models in /usr/share/qatlab/zoo")
endif()

file(STRINGS "${QAT_PACKAGING_DIR}/changelog" top LIMIT_COUNT 1)
string(REPLACE ";" "\\;" top "${top}")
if(NOT top MATCHES "^qatlab \\(${QAT_VERSION}\\) ")
  problem("packaging/changelog starts with '${top}', add an entry for "
       "${QAT_VERSION} (project(VERSION))")
endif()
if(QAT_HAS_GUI)
  file(READ "${QAT_PACKAGING_DIR}/${QAT_APP_ID}.metainfo.xml" metainfo)
  string(REGEX MATCH "<release version=\"([^\"]*)\"" _ "${metainfo}")
  if(NOT CMAKE_MATCH_1 STREQUAL QAT_VERSION)
    problem("the newest <release> in packaging/${QAT_APP_ID}.metainfo.xml is "
         "'${CMAKE_MATCH_1}', add one for ${QAT_VERSION}")
  endif()
endif()

if(problems)
  message(FATAL_ERROR "qatlab package:${problems}")
endif()
