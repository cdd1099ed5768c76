// Parses each file named on the command line to Groovy's CONVERSION phase (syntax: the whole
// file read into an AST, nothing resolved or run) and exits 1, printing the errors, if any
// file does not parse. Run: java -cp groovy-X.jar groovy.ui.GroovyMain groovy_syntax.groovy FILE…
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.MultipleCompilationErrorsException
import org.codehaus.groovy.control.Phases

int failed = 0
for (String path : args) {
    def unit = new CompilationUnit()
    unit.addSource(new File(path))
    try {
        unit.compile(Phases.CONVERSION)
        println "${path}: parses"
    } catch (MultipleCompilationErrorsException e) {
        System.err.println(e.message)
        failed++
    }
}
System.exit(failed == 0 ? 0 : 1)
