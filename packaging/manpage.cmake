# Fills a man page template from the built program's --help output, so the options in the
# manual are exactly the ones the program parses. Run at build time (cmake/Packaging.cmake):
#   cmake -DPROGRAM=<exe> -DNAME=<name> -DTEMPLATE=<x.1.in> -DOUTPUT=<x.1> -DVERSION=<v>
#         -DDATE=<yyyy-mm-dd> -DDATADIR=<prefix/share/qatlab> [-DSUBCOMMANDS=1] -P manpage.cmake
# Placeholders: @VERSION@ @DATE@ @DATADIR@, @HELP@ (the program's --help, verbatim) and
# @COMMANDS@ (one .SS per subcommand listed under "Subcommands:", with its --help).
# Writes OUTPUT and OUTPUT.gz (gzip -9n: no name or time stamp, as Debian wants).
cmake_minimum_required(VERSION 3.25)

foreach(var PROGRAM NAME TEMPLATE OUTPUT VERSION DATE DATADIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "manpage.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs PROGRAM <args> --help; fails the build if it fails or prints nothing.
function(qat_help out)
  execute_process(COMMAND ${PROGRAM} ${ARGN} --help
                  OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR text STREQUAL "")
    message(FATAL_ERROR "manpage.cmake: '${PROGRAM} ${ARGN} --help' failed (${rc}): ${err}")
  endif()
  string(STRIP "${text}" text)
  # Qt prints argv[0] in its usage line: the build tree's path, not the installed name.
  string(REPLACE "${PROGRAM}" "${NAME}" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Escapes plain text for troff: backslashes, hyphens (so options print as ASCII minus and
# can be pasted), and a leading . or ' that troff would read as a request.
function(qat_troff_escape out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Verbatim help text as an indented no-fill block; blank lines become .sp requests.
function(qat_troff_block out text)
  qat_troff_escape(text "${text}")
  string(REGEX REPLACE "\n[ \t]*\n([ \t]*\n)*" "\n.sp\n" text "${text}")
  set(${out} ".RS 4\n.nf\n${text}\n.fi\n.RE" PARENT_SCOPE)
endfunction()

qat_help(help)
qat_troff_block(help_block "${help}")

set(commands "")
if(SUBCOMMANDS)
  # CLI11 lists subcommands as "  name   description" under "Subcommands:".
  string(FIND "${help}" "\nSubcommands:\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "manpage.cmake: '${PROGRAM} --help' lists no subcommands")
  endif()
  string(SUBSTRING "${help}" ${at} -1 listing)
  string(REPLACE "\n" ";" lines "${listing}")
  set(names "")
  set(started FALSE)
  foreach(line IN LISTS lines)
    if(line MATCHES "^Subcommands:")
      set(started TRUE)
    elseif(started AND line MATCHES "^  ([a-z][a-z0-9-]*)  ")
      list(APPEND names ${CMAKE_MATCH_1})
    elseif(started AND NOT names STREQUAL "")
      break()
    endif()
  endforeach()
  if(names STREQUAL "")
    message(FATAL_ERROR "manpage.cmake: no subcommand names found in '${PROGRAM} --help'")
  endif()
  foreach(name IN LISTS names)
    qat_help(sub ${name})
    # First line: the description; second: "Usage: prog name [OPTIONS] ...".
    string(REGEX MATCH "^([^\n]*)\nUsage: [^ ]+ ([^\n]*)\n(.*)$" matched "${sub}")
    if(NOT matched)
      message(FATAL_ERROR "manpage.cmake: unexpected '${name} --help' output:\n${sub}")
    endif()
    set(summary "${CMAKE_MATCH_1}")
    set(usage "${CMAKE_MATCH_2}")
    set(body "${CMAKE_MATCH_3}")
    # The generic pointer to COMMAND --help says nothing inside a manual.
    string(REGEX REPLACE "\n?Run '[^\n]* COMMAND --help'[^\n]*" "" body "${body}")
    string(STRIP "${body}" body)
    qat_troff_escape(usage "${usage}")
    qat_troff_escape(summary "${summary}")
    qat_troff_block(body "${body}")
    string(APPEND commands ".SS \"${usage}\"\n${summary}.\n.PP\n${body}\n")
  endforeach()
  string(STRIP "${commands}" commands)
endif()

file(READ ${TEMPLATE} page)
string(REPLACE "@VERSION@" "${VERSION}" page "${page}")
string(REPLACE "@DATE@" "${DATE}" page "${page}")
string(REPLACE "@DATADIR@" "${DATADIR}" page "${page}")
string(REPLACE "@HELP@" "${help_block}" page "${page}")
string(REPLACE "@COMMANDS@" "${commands}" page "${page}")
if(page MATCHES "@[A-Z]+@")
  message(FATAL_ERROR "manpage.cmake: ${TEMPLATE} has an unknown placeholder ${CMAKE_MATCH_0}")
endif()
file(WRITE ${OUTPUT} "${page}")
execute_process(COMMAND gzip -9 -n -f ${OUTPUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "manpage.cmake: gzip ${OUTPUT} failed")
endif()
